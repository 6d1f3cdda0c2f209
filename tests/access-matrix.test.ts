import request from 'supertest';
import type { Response } from 'supertest';
import { AuditLog, SYSTEM_ACTOR } from '../src/features/audit/service';
import { grantAccess } from '../src/features/docs-access/service';
import { insertAccessRequest } from '../src/features/docs-access/repo';
import { MINUTE } from '../src/clock';
import { deriveSealingKey, seal } from '../src/crypto';
import { SEALING_PURPOSE } from '../src/features/second-factors/service';
import { insertPasskey } from '../src/features/passkeys/repo';
import { anonymousAgent, createTestContext, seedUser, signIn } from './helpers';
import { listRoutes } from './router-routes';
import { seedWorld } from './world';
import type { Agent, TestContext } from './helpers';

/**
 * Access control, route by route: every route of the app (read from Express's router, so a new
 * route cannot be forgotten) x seven callers, each with the outcome it must get. A route without a
 * row in EXPECTED fails the first test; a row without a route fails it too.
 */

/** stale: an operator of company A who signed in 11 minutes ago (sudo mode's check is 10 minutes old). */
const PERSONAS = ['signedOut', 'adminA', 'adminB', 'operator', 'disabled', 'apiKey', 'stale'] as const;
type Persona = (typeof PERSONAS)[number];

/**
 * What a caller gets:
 * - ok: the route's own handler answered (a page, a redirect after a change, or its own 4xx about the input)
 * - signIn: turned away for not being signed in (a page: 303 to /sign-in; a form post: 401/403, nothing done)
 * - hidden: 404, as if the thing did not exist (other company's things, operator pages for non-operators)
 * - apiUnauthorized: 401 JSON with WWW-Authenticate (the platform API without valid credentials)
 * - noDocsAccess: 403 (the API documentation, for whoever was not granted access)
 * - methodNotAllowed: 405 with Allow
 * - reauth: 401 and the password form of sudo mode (src/http/recent-check.ts), nothing done
 */
type Outcome = 'ok' | 'signIn' | 'hidden' | 'apiUnauthorized' | 'noDocsAccess' | 'methodNotAllowed' | 'reauth';
type Row = Record<Persona, Outcome>;

const all = (outcome: Outcome): Row => ({
  signedOut: outcome,
  adminA: outcome,
  adminB: outcome,
  operator: outcome,
  disabled: outcome,
  apiKey: outcome,
  stale: outcome,
});
/** Any signed-in user; the API key (no cookie) is a stranger to the console. */
const signedIn: Row = { signedOut: 'signIn', adminA: 'ok', adminB: 'ok', operator: 'ok', disabled: 'signIn', apiKey: 'signIn', stale: 'ok' };
/** Operators only: 404 for administrators, so they learn nothing about these pages. */
const operatorOnly: Row = { ...signedIn, adminA: 'hidden', adminB: 'hidden' };
/** A thing of company A: only A's administrators; B and the operator (another company) get 404. */
const companyA: Row = { ...signedIn, adminB: 'hidden', operator: 'hidden' };
/** Admin A's own sign-in factors: hidden from every other user, company A's stale operator too. */
const ownOfAdminA: Row = { ...companyA, stale: 'hidden' };
/**
 * Public pages. Their form posts need the session's CSRF token: an API caller has no session, and a
 * disabled user's session ended with the account, so both are refused (403) before anything happens.
 */
const publicPage: Row = all('ok');
const publicForm: Row = { ...all('ok'), disabled: 'signIn', apiKey: 'signIn' };
/**
 * The second sign-in step's passkey routes: only a session whose password was right and waits for its
 * second step gets in; none of these callers has one (signed in or not), so all are refused (401, or CSRF's 403).
 * tests/passkeys-second-step.test.ts checks the pending user's own way through.
 */
const pendingSignInOnly: Row = all('signIn');
/** Sensitive actions (sudo mode): whoever may reach them, but with a check older than 10 minutes, is asked for the password first. */
const sensitive = (row: Row): Row => ({ ...row, stale: 'reauth' });
/** The platform API: only the API key (Basic) gets in; cookies authenticate nothing there. */
const apiOnly: Row = { ...all('apiUnauthorized'), apiKey: 'ok' };

/** Every route: `METHOD path` as Express knows it (ALL = router.all, requested with PUT). */
const EXPECTED: Record<string, Row> = {
  'GET /healthz': publicPage,
  'GET /.well-known/oauth-authorization-server': publicPage,
  'GET /.well-known/jwks.json': publicPage,
  // Client authentication (RFC 6749 2.3): an API key is not an OAuth client, a cookie is nothing.
  'POST /oauth/token': all('apiUnauthorized'),
  'POST /oauth/introspect': all('apiUnauthorized'),
  'POST /oauth/revoke': all('apiUnauthorized'),
  'ALL /oauth/token': all('methodNotAllowed'),
  'ALL /oauth/introspect': all('methodNotAllowed'),
  'ALL /oauth/revoke': all('methodNotAllowed'),
  'ALL /.well-known/oauth-authorization-server': all('methodNotAllowed'),
  'ALL /.well-known/jwks.json': all('methodNotAllowed'),
  'GET /api/v1/me': apiOnly,
  'ALL /auth/verify': apiOnly,
  // Leak reports: anyone may send one (no credentials); the matrix's form body gets the handler's 415.
  'POST /api/v1/credentials/leaked': publicPage,
  'ALL /api/v1/credentials/leaked': all('methodNotAllowed'),

  'GET /sign-in': publicPage,
  'POST /sign-in': publicForm,
  'POST /sign-out': publicForm,
  'GET /setup': all('hidden'), // the one-time setup link is spent once anyone exists
  'POST /setup': { ...all('hidden'), disabled: 'signIn', apiKey: 'signIn' },
  'GET /invitation': all('hidden'), // no valid one-time token in the URL
  'POST /invitation': { ...all('hidden'), disabled: 'signIn', apiKey: 'signIn' },
  'GET /': signedIn,
  // The second sign-in step: without a pending sign-in (a correct password moments ago), back to the sign-in page.
  'GET /sign-in/second-factor': { ...all('signIn'), adminA: 'ok', adminB: 'ok', operator: 'ok', stale: 'ok' },
  'POST /sign-in/second-factor': { ...all('ok'), disabled: 'signIn', apiKey: 'signIn' },
  'GET /account/security': signedIn,
  'POST /account/security/totp': sensitive(signedIn),
  'POST /account/security/totp/:id/confirm': sensitive(ownOfAdminA), // admin A's enrolment; anyone else's is not found
  'POST /account/security/totp/:id/remove': sensitive(ownOfAdminA),
  'POST /account/security/recovery-codes': sensitive(signedIn),
  'GET /operator/security': operatorOnly,
  'POST /operator/security': operatorOnly,
  'POST /operator/companies/:id/second-factor': operatorOnly,
  'POST /operator/companies/:id/users/:userId/reset-factors': operatorOnly,
  // Passkeys: anyone may start a passkey sign-in (the same gate as the password form); the answer is the handler's.
  'POST /sign-in/passkey/options': publicForm,
  'POST /sign-in/passkey': publicForm,
  'POST /sign-in/second-factor/passkey/options': pendingSignInOnly,
  'POST /sign-in/second-factor/passkey': pendingSignInOnly,
  // Each user's own passkeys: admin A's passkey is hidden from everyone else, like another company's things.
  'GET /account/passkeys': signedIn,
  'POST /account/passkeys/options': sensitive(signedIn),
  'POST /account/passkeys': signedIn,
  'POST /account/passkeys/:id/rename': ownOfAdminA,
  'POST /account/passkeys/:id/delete': sensitive(ownOfAdminA),

  'GET /admin/api': signedIn,
  'POST /admin/api/basic-auth/generate': sensitive(signedIn),
  'POST /admin/api/oauth/generate': sensitive(signedIn),
  'POST /admin/api/basic-auth/:id/save': sensitive(companyA),
  'POST /admin/api/oauth/:id/save': sensitive(companyA),
  'GET /admin/api/credentials/:id/revoke': companyA,
  'POST /admin/api/credentials/:id/revoke': sensitive(companyA),
  'GET /admin/api/credentials/:id/end-overlap': companyA,
  'POST /admin/api/credentials/:id/end-overlap': sensitive(companyA),
  'POST /admin/api/credentials/:id/allowlist': sensitive(companyA),
  'GET /admin/api/docs-access': signedIn,
  'POST /admin/api/docs-access/next': signedIn,
  'POST /admin/api/docs-access/back': signedIn,
  'POST /admin/api/docs-access': signedIn,
  'GET /audit': signedIn,
  'GET /audit.csv': signedIn,

  'GET /operator/companies': operatorOnly,
  'POST /operator/companies': operatorOnly,
  'GET /operator/companies/:id': operatorOnly,
  'POST /operator/companies/:id/invitations': sensitive(operatorOnly),
  'POST /operator/companies/:id/users/:userId/disable': operatorOnly,
  'POST /operator/companies/:id/users/:userId/enable': operatorOnly,
  'POST /operator/companies/:id/scopes': operatorOnly,
  'POST /operator/companies/:id/credential-lifetime': operatorOnly,
  'POST /operator/companies/:id/leak-policy': operatorOnly,
  'GET /operator/credentials': operatorOnly,
  'GET /operator/credentials/:id/revoke': operatorOnly,
  'POST /operator/credentials/:id/revoke': sensitive(operatorOnly),
  'GET /operator/scopes': operatorOnly,
  'POST /operator/scopes': operatorOnly,
  'POST /operator/scopes/describe': operatorOnly,
  'POST /operator/scopes/delete': operatorOnly,
  'GET /operator/outbox': operatorOnly,
  'GET /operator/outbox/:id': operatorOnly,
  'POST /operator/outbox/:id/retry': operatorOnly,
  'GET /operator/access-requests': operatorOnly,
  'POST /operator/access-requests/:id/grant': operatorOnly,
  'POST /operator/access-requests/:id/deny': operatorOnly,
  'POST /operator/access-requests/:id/revoke': operatorOnly,
  'POST /operator/access-requests/:id/resend': operatorOnly,
  'GET /operator/signing-keys': operatorOnly,
  'POST /operator/signing-keys/rotate': sensitive(operatorOnly),
  'POST /operator/signing-keys/retire-now': sensitive(operatorOnly),

  // The documentation: whoever was granted access (admin@a.test was), by session or personal link.
  'GET /docs': { ...all('noDocsAccess'), adminA: 'ok' },
  'GET /docs/openapi.json': { ...all('noDocsAccess'), adminA: 'ok' },
  'GET /docs/access': all('noDocsAccess'), // without a valid personal link
};

interface Fixture {
  companyA: number;
  victimUserId: number;
  activeKeyId: number;
  apiKey: string;
  pendingKeyId: number;
  pendingClientId: number;
  accessRequestId: number;
  outboxId: number;
  /** Admin A's authenticator apps: one waiting for its first code, one kept (added once every persona has signed in). */
  pendingTotpId: number;
  confirmedTotpId: number;
  passkeyId: number;
}

/** Admin A's two authenticator apps, written straight to the database with a properly sealed secret. */
async function seedTotp(ctx: TestContext, adminA: number): Promise<{ pendingTotpId: number; confirmedTotpId: number }> {
  const sealed = seal('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', deriveSealingKey(ctx.config.sessionSecret, SEALING_PURPOSE));
  const insert = async (confirmedAt: number | null) => {
    await ctx.query(
      'INSERT INTO totp_factors (user_id, name, secret_sealed, created_at, confirmed_at) VALUES (?, ?, ?, ?, ?)',
      adminA,
      'Phone',
      sealed,
      ctx.clock.now(),
      confirmedAt,
    );
    return Number(await ctx.value('SELECT MAX(id) FROM totp_factors'));
  };
  return { confirmedTotpId: await insert(ctx.clock.now()), pendingTotpId: await insert(null) };
}

/** Admin A's passkey (a second factor too, so added after the sign-ins, like the authenticator apps). */
async function seedPasskey(ctx: TestContext, adminA: number): Promise<{ passkeyId: number }> {
  const passkeyId = await insertPasskey(
    ctx.database,
    { userId: adminA, credentialId: 'matrix-passkey', publicKey: Buffer.from('not a real key'), counter: 0, transports: [], name: 'Laptop' },
    ctx.clock.now(),
  );
  return { passkeyId };
}

/** The same world in every persona's database (tests/world.ts), plus a granted documentation request for admin A. */
async function seedMatrixWorld(ctx: TestContext): Promise<Fixture> {
  const { ids, secrets } = await seedWorld(ctx);
  const deps = {
    db: ctx.database,
    clock: ctx.clock,
    audit: new AuditLog(ctx.database, ctx.clock),
    mailer: { send: () => Promise.resolve(0) },
    config: ctx.config,
  };
  await grantAccess(deps, await insertAccessRequest(ctx.database, ids.companyA, 'admin@a.test', ids.adminA, ctx.clock.now()), null, SYSTEM_ACTOR);
  return {
    companyA: ids.companyA,
    victimUserId: ids.victim,
    activeKeyId: ids.activeKey,
    apiKey: secrets.apiKey,
    pendingKeyId: ids.pendingKey,
    pendingClientId: ids.pendingClient,
    accessRequestId: ids.accessRequest,
    outboxId: ids.outbox,
    pendingTotpId: 0,
    confirmedTotpId: 0,
    passkeyId: 0,
  };
}

/** The concrete URL for a route: its parameters filled with company A's things. */
function urlFor(routePath: string, f: Fixture): string {
  const byRoute: Record<string, Record<string, number>> = {
    '/admin/api/basic-auth/:id/save': { id: f.pendingKeyId },
    '/admin/api/oauth/:id/save': { id: f.pendingClientId },
    '/admin/api/credentials/:id/revoke': { id: f.activeKeyId },
    '/admin/api/credentials/:id/end-overlap': { id: f.activeKeyId },
    '/admin/api/credentials/:id/allowlist': { id: f.activeKeyId },
    '/operator/credentials/:id/revoke': { id: f.activeKeyId },
    '/operator/outbox/:id': { id: f.outboxId },
    '/operator/outbox/:id/retry': { id: f.outboxId },
    '/account/security/totp/:id/confirm': { id: f.pendingTotpId },
    '/account/security/totp/:id/remove': { id: f.confirmedTotpId },
    '/account/passkeys/:id/rename': { id: f.passkeyId },
    '/account/passkeys/:id/delete': { id: f.passkeyId },
  };
  const values: Record<string, number> = {
    ...(routePath.startsWith('/operator/companies/') ? { id: f.companyA, userId: f.victimUserId } : {}),
    ...(routePath.startsWith('/operator/access-requests/') ? { id: f.accessRequestId } : {}),
    ...byRoute[routePath],
  };
  return routePath.replace(/:(\w+)/g, (_, name: string) => {
    if (values[name] === undefined) throw new Error(`no value for :${name} in ${routePath}: add it to urlFor()`);
    return String(values[name]);
  });
}

/** Did the answer match the outcome? Returns a description of the mismatch, or undefined. */
function judge(outcome: Outcome, method: string, res: Response): string | undefined {
  const s = res.status;
  const location = res.headers.location ?? '';
  const toSignIn = s === 303 && location.startsWith('/sign-in');
  const ok = (() => {
    switch (outcome) {
      case 'ok':
        // Past access control, into the handler: a 400/409/422 is the handler's answer to the matrix's
        // empty body, never an access refusal (those are 401, 403, 404 or a page redirected to sign in;
        // a POST may redirect there by design, as sign-out does).
        return s < 500 && ![401, 403, 404, 405].includes(s) && !(method === 'GET' && toSignIn);
      case 'signIn':
        return method === 'GET' ? toSignIn : s === 401 || s === 403;
      case 'hidden':
        return s === 404;
      case 'apiUnauthorized':
        return s === 401 && /json/.test(res.headers['content-type'] ?? '') && (res.headers['www-authenticate'] ?? '') !== '';
      case 'noDocsAccess':
        return s === 403;
      case 'methodNotAllowed':
        return s === 405 && (res.headers.allow ?? '') !== '';
      case 'reauth':
        return s === 401 && res.text.includes('name="reauth_password"');
    }
  })();
  return ok ? undefined : `expected ${outcome}, got ${s}${location ? ` -> ${location}` : ''}`;
}

type Caller = { agent?: Agent; authorization?: string };

describe('access control matrix (generated from the router)', () => {
  // One database per persona, so what one caller changes never changes another's outcome.
  const worlds = Object.fromEntries(
    PERSONAS.map((p) => {
      const ctx = createTestContext();
      return [p, { ctx, fixture: undefined as unknown as Fixture, caller: {} }];
    }),
  ) as Record<Persona, { ctx: TestContext; fixture: Fixture; caller: Caller }>;
  const routes = listRoutes(worlds.adminA.ctx.app);
  // Signing out ends the session the other rows need: last.
  const ordered = [...routes.filter((r) => r !== 'POST /sign-out'), ...routes.filter((r) => r === 'POST /sign-out')];

  beforeAll(async () => {
    const w = worlds;
    for (const p of PERSONAS) w[p].fixture = await seedMatrixWorld(w[p].ctx);
    w.signedOut.caller.agent = await anonymousAgent(w.signedOut.ctx.app);
    w.adminA.caller.agent = await signIn(w.adminA.ctx.app, 'admin@a.test');
    w.adminB.caller.agent = await signIn(w.adminB.ctx.app, 'admin@b.test');
    w.operator.caller.agent = await signIn(w.operator.ctx.app, 'operator@ops.test');
    // Signed in, then disabled by an operator: the session must stop working at once.
    w.disabled.caller.agent = await signIn(w.disabled.ctx.app, 'disabled@a.test');
    await w.disabled.ctx.query("UPDATE users SET disabled_at = 1 WHERE email = 'disabled@a.test'");
    // An operator of company A (it reaches every console route), signed in 11 minutes ago on the FakeClock.
    await seedUser(w.stale.ctx, w.stale.fixture.companyA, 'stale@a.test', { operator: true });
    w.stale.caller.agent = await signIn(w.stale.ctx.app, 'stale@a.test');
    w.stale.ctx.clock.advance(11 * MINUTE);
    w.apiKey.caller.authorization = `Basic ${Buffer.from(`company-a-api:${w.apiKey.fixture.apiKey}`).toString('base64')}`;
    // After the sign-ins: admin A's app and passkey would otherwise ask for the second step.
    for (const p of PERSONAS) {
      const adminA = (await w[p].ctx.value<number>("SELECT id FROM users WHERE email = 'admin@a.test'"))!;
      Object.assign(w[p].fixture, await seedTotp(w[p].ctx, adminA), await seedPasskey(w[p].ctx, adminA));
    }
  });
  afterAll(() => Promise.all(PERSONAS.map((p) => worlds[p].ctx.close())));

  it('has exactly one row per route, and each row covers every persona', () => {
    const missing = routes.filter((r) => !(r in EXPECTED));
    const stale = Object.keys(EXPECTED).filter((r) => !routes.includes(r));
    expect({ missing, stale }).toEqual({ missing: [], stale: [] });
    for (const row of Object.values(EXPECTED)) expect(Object.keys(row).sort()).toEqual([...PERSONAS].sort());
    console.log(`access matrix: ${routes.length} routes x ${PERSONAS.length} callers = ${routes.length * PERSONAS.length} cells`);
  });

  it.each(ordered)('%s', async (route) => {
    const row = EXPECTED[route];
    if (!row) throw new Error(`no row for ${route} in EXPECTED`);
    const [method, routePath] = route.split(' ');
    const mismatches: string[] = [];
    for (const persona of PERSONAS) {
      const { ctx, fixture, caller } = worlds[persona];
      const url = urlFor(routePath, fixture);
      const httpMethod = method === 'ALL' ? (routePath === '/auth/verify' ? 'GET' : 'PUT') : method;
      const client = caller.agent ?? request(ctx.app);
      let req = (client as unknown as Record<string, (url: string) => request.Test>)[httpMethod.toLowerCase()](url);
      if (caller.authorization) req = req.set('Authorization', caller.authorization);
      if (httpMethod === 'POST') {
        // The smallest body: the form's CSRF token (the gate under test is access, not CSRF), nothing else.
        req = routePath.startsWith('/oauth/')
          ? req.type('form').send({ grant_type: 'client_credentials', token: 'x' })
          : req.type('form').send(caller.agent ? { _csrf: caller.agent.csrf } : {});
      }
      const res = await req;
      const problem = judge(row[persona], httpMethod, res);
      if (problem) mismatches.push(`${persona}: ${problem}`);
      expect(res.status).toBeLessThan(500);
    }
    expect(mismatches).toEqual([]);
  });
});
