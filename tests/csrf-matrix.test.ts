import type request from 'supertest';
import { createTestContext, PASSWORD, signIn } from './helpers';
import type { Agent } from './helpers';
import { listRoutes } from './router-routes';
import { seedWorld } from './world';
import { insertPasskey } from '../src/features/passkeys/repo';
import type { World } from './world';

/**
 * CSRF, route by route: every state-changing console route (read from Express's router, so a new one
 * is checked the day it is added) is refused with 403 and changes nothing in the database, both
 * without a token and with a valid token sent from another site. The caller is a signed-in operator
 * who administers the company that owns everything in the world, so each request would otherwise
 * be allowed: authorization cannot be what refuses it.
 */

const UNSAFE = /^(POST|PUT|PATCH|DELETE|ALL) /;

/**
 * The routes without CSRF protection, one by one (never by prefix, so a new console route cannot be
 * exempt by accident): the platform API, which reads no cookie and authenticates every request itself.
 * router.all() routes answer 405 to methods the endpoint does not take.
 */
const EXEMPT: Record<string, string> = {
  'POST /oauth/token': 'client authentication (RFC 6749 2.3)',
  'POST /oauth/introspect': 'client authentication (RFC 7662 2.1)',
  'POST /oauth/revoke': 'client authentication (RFC 7009 2.1)',
  'ALL /oauth/token': '405 for other methods',
  'ALL /oauth/introspect': '405 for other methods',
  'ALL /oauth/revoke': '405 for other methods',
  'ALL /.well-known/oauth-authorization-server': '405 for other methods',
  'ALL /.well-known/jwks.json': '405 for other methods',
  'ALL /auth/verify': 'forward-auth: Basic or Bearer on every call, any method the proxied API takes',
  'POST /api/v1/credentials/leaked': 'leak reports: public, no cookie read, JSON only (decision 0020)',
  'ALL /api/v1/credentials/leaked': '405 for other methods',
};
const PLATFORM_API = /^[A-Z]+ \/(oauth|api\/v1|auth\/verify|\.well-known)(\/|$)/;

/** A body each route would act on if the check were missing (the world's own ids are in the URL). */
const BODIES: Record<string, Record<string, string>> = {
  'POST /sign-in': { email: 'admin@a.test', password: PASSWORD },
  'POST /admin/api/basic-auth/generate': { username: 'forged-api' },
  'POST /admin/api/oauth/generate': { scopes: 'claims:read' },
  'POST /admin/api/basic-auth/:id/save': { overlap: 'none' },
  'POST /admin/api/oauth/:id/save': { overlap: 'none' },
  'POST /admin/api/credentials/:id/revoke': { reason: 'Forged by another site' },
  'POST /admin/api/credentials/:id/end-overlap': {},
  'POST /admin/api/credentials/:id/allowlist': { allowlist: '198.51.100.0/24' },
  'POST /admin/api/docs-access': { email: 'forged@a.test' },
  'POST /operator/companies': { name: 'Forged company' },
  'POST /operator/companies/:id/invitations': { email: 'forged@a.test' },
  'POST /operator/companies/:id/scopes': { scopes: 'claims:read' },
  'POST /operator/companies/:id/credential-lifetime': { maxLifetime: '30' },
  'POST /operator/companies/:id/leak-policy': { policy: 'report' },
  'POST /operator/credentials/:id/revoke': { reason: 'Forged by another site' },
  'POST /operator/scopes': { name: 'forged:read', description: 'Forged' },
  'POST /operator/scopes/describe': { name: 'claims:read', description: 'Forged' },
  'POST /operator/scopes/delete': { name: 'claims:write' },
  'POST /operator/access-requests/:id/grant': { message: 'Forged' },
  'POST /operator/access-requests/:id/deny': { message: 'Forged' },
  'POST /sign-in/second-factor': { code: '123456' },
  'POST /account/security/totp/:id/confirm': { name: 'Forged', code: '123456' },
  'POST /operator/security': { required: 'on' },
  'POST /operator/companies/:id/second-factor': { required: 'on' },
  'POST /account/passkeys/options': { name: 'Forged' },
  'POST /account/passkeys': { name: 'Forged' },
  'POST /account/passkeys/:id/rename': { name: 'Forged' },
};

/** The world's things for a route's parameters; any other parameter gets 1 (the check comes before the route). */
function urlFor(routePath: string, ids: World['ids'] & { passkey?: number }): string {
  const byPrefix: [RegExp, Record<string, number>][] = [
    [/^\/admin\/api\/basic-auth\//, { id: ids.pendingKey }],
    [/^\/admin\/api\/oauth\//, { id: ids.pendingClient }],
    [/\/credentials\/:id\//, { id: ids.activeKey }],
    [/^\/operator\/companies\//, { id: ids.companyA, userId: ids.victim }],
    [/^\/operator\/outbox\//, { id: ids.outbox }],
    [/^\/operator\/access-requests\//, { id: ids.accessRequest }],
    [/^\/account\/passkeys\//, { id: ids.passkey ?? 1 }],
  ];
  const values = byPrefix.find(([prefix]) => prefix.test(routePath))?.[1] ?? {};
  return routePath.replace(/:(\w+)/g, (_, name: string) => String(values[name] ?? 1));
}

describe('CSRF refusals (generated from the router)', () => {
  const ctx = createTestContext();
  let world: World;
  const routes = listRoutes(ctx.app);
  const checked = routes.filter((route) => UNSAFE.test(route) && !(route in EXEMPT));
  let operator: Agent;
  let passkey: number;

  beforeAll(async () => {
    world = await seedWorld(ctx);
    // Admin A made an operator: every console route is open to this caller, and every thing in the world is theirs.
    await ctx.query('UPDATE users SET is_operator = 1 WHERE id = ?', world.ids.adminA);
    operator = await signIn(ctx.app, 'admin@a.test');
    // A passkey of the caller's, for the route that would remove it.
    passkey = await insertPasskey(
      ctx.database,
      { userId: world.ids.adminA, credentialId: 'csrf-passkey', publicKey: Buffer.from('not a real key'), counter: 0, transports: [], name: 'Laptop' },
      ctx.clock.now(),
    );
  });
  afterAll(() => ctx.close());

  /** Every row of every table. A session's expiry and cookie may be touched by any request; nothing else may move. */
  async function snapshot(): Promise<Record<string, unknown[]>> {
    const tables = await ctx.snapshot();
    tables.sessions = tables.sessions.map(({ expires_at: _touched, data, ...row }) => ({ ...row, data: { ...JSON.parse(String(data)), cookie: undefined } }));
    return tables;
  }

  function send(route: string, body: Record<string, string>, headers: Record<string, string>): request.Test {
    const [method, routePath] = route.split(' ');
    const verb = (method === 'ALL' ? 'post' : method.toLowerCase()) as 'post' | 'put' | 'patch' | 'delete';
    return operator[verb](urlFor(routePath, { ...world.ids, passkey }))
      .set(headers)
      .type('form')
      .send(body);
  }

  it('checks every state-changing console route, and exempts only platform API routes that exist', () => {
    const staleExempt = Object.keys(EXEMPT).filter((route) => !routes.includes(route) || !PLATFORM_API.test(route));
    const staleBodies = Object.keys(BODIES).filter((route) => !checked.includes(route));
    expect({ staleExempt, staleBodies }).toEqual({ staleExempt: [], staleBodies: [] });
    expect(checked.filter((route) => PLATFORM_API.test(route))).toEqual([]);
    expect(checked).toEqual(expect.arrayContaining(['POST /sign-in', 'POST /sign-out', 'POST /admin/api/basic-auth/generate', 'POST /operator/companies']));
    console.log(`CSRF matrix: ${checked.length} state-changing console routes x 3 cases`);
  });

  describe('without a CSRF token', () => {
    it.each(checked)('%s: 403, nothing changes', async (route) => {
      const before = await snapshot();
      const res = await send(route, BODIES[route] ?? {}, {});
      expect(res.status).toBe(403);
      expect(res.text).toContain('Your form expired or was not sent from this page. Reload the page and try again.');
      expect(await snapshot()).toEqual(before);
    });
  });

  // Sudo mode's answer rides in the action's own body (src/http/recent-check.ts): a forged one is refused like
  // any forged form, before the password is read, so it neither acts nor renews the session's check (its data is in the snapshot).
  describe('with the right password for sudo mode, but without a CSRF token', () => {
    it.each(checked)('%s: 403, nothing changes', async (route) => {
      const before = await snapshot();
      const res = await send(route, { ...BODIES[route], reauth_password: PASSWORD }, {});
      expect(res.status).toBe(403);
      expect(res.text).toContain('Your form expired or was not sent from this page. Reload the page and try again.');
      expect(await snapshot()).toEqual(before);
    });
  });

  describe('with a valid token, sent from another site', () => {
    it.each(checked)('%s: 403, nothing changes', async (route) => {
      const before = await snapshot();
      const res = await send(route, { ...BODIES[route], _csrf: operator.csrf }, { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' });
      expect(res.status).toBe(403);
      expect(res.text).toContain('This form was sent from another site, so we did not act on it.');
      expect(await snapshot()).toEqual(before);
    });
  });
});
