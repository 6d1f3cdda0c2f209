import type { Response } from 'supertest';
import { MINUTE } from '../src/clock';
import { deriveSealingKey, seal } from '../src/crypto';
import { API_KEY_PREFIX, isWellFormed } from '../src/features/credentials/secrets';
import { SEALING_PURPOSE } from '../src/features/second-factors/service';
import { PASSWORD, createTestContext, csrfFrom, signIn } from './helpers';
import { codeAt } from './second-factors-support';
import type { Agent, TestContext } from './helpers';
import { fieldValue, generateApiKey, htmx, saveIdIn } from './credentials-helpers';
import { seedWorld } from './world';
import type { World } from './world';

/**
 * Sudo mode (src/http/recent-check.ts): every sensitive action goes straight through within 10 minutes
 * of the last check of the person, and otherwise asks for the password inline (a page, or for htmx
 * the same form in the element the action targets), then does the ORIGINAL action with what was
 * typed first. Each action below is tried fresh, stale, stale-then-answered, with and without htmx.
 */

const STALE = 11 * MINUTE;

interface Action {
  name: string;
  as: 'admin@a.test' | 'operator@ops.test';
  path: (w: World) => string;
  body: Record<string, string | string[]>;
  /** The id of the element the page's htmx form targets (sent as HX-Target); none where the form is plain or targets itself. */
  hxTarget?: string;
  /** What a plain form post answers when the action is done (htmx answers 200 with its fragment, or 204 to redirect). */
  plainStatus: number;
  htmxStatus: number;
  /** The action's visible effect, read from the database: different before and after, and showing the original input. */
  effect: (ctx: TestContext, w: World) => Promise<unknown>;
  /** The effect once done with the action's body. */
  done: (w: World) => unknown;
  /** What the action needs that the world lacks, written once the person has signed in (a factor there would make the sign-in ask for it). */
  prepare?: (ctx: TestContext, w: World, agent: Agent) => Promise<void>;
}

/** Admin A's own factors written by `prepare`, by kind: their ids for the actions' paths. */
const own: { totp?: number; passkey?: number } = {};
const AUTHENTICATOR_KEY = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

/** Admin A's authenticator app "Phone" with a known key, straight into the database. */
async function seedAuthenticator(ctx: TestContext, w: World): Promise<void> {
  const sealed = seal(AUTHENTICATOR_KEY, deriveSealingKey(ctx.config.sessionSecret, SEALING_PURPOSE));
  const now = ctx.clock.now();
  await ctx.query(
    'INSERT INTO totp_factors (user_id, name, secret_sealed, created_at, confirmed_at) VALUES (?, ?, ?, ?, ?)',
    w.ids.adminA,
    'Phone',
    sealed,
    now,
    now,
  );
  own.totp = Number(await ctx.value('SELECT MAX(id) FROM totp_factors'));
}

async function seedPasskey(ctx: TestContext, w: World): Promise<void> {
  await ctx.query(
    'INSERT INTO passkeys (user_id, credential_id, public_key, name, created_at) VALUES (?, ?, ?, ?, ?)',
    w.ids.adminA,
    'reauth-passkey',
    Buffer.from('not a real key'),
    'Laptop',
    ctx.clock.now(),
  );
  own.passkey = Number(await ctx.value('SELECT MAX(id) FROM passkeys'));
}

const one = async (ctx: TestContext, text: string, ...params: unknown[]) => (await ctx.query(text, ...params))[0] ?? null;

const ACTIONS: Action[] = [
  {
    name: 'Generate API Key',
    as: 'admin@a.test',
    path: () => '/admin/api/basic-auth/generate',
    body: { username: 'chosen-name' },
    hxTarget: 'basic-area',
    plainStatus: 200,
    htmxStatus: 200,
    effect: (ctx) => one(ctx, "SELECT identifier, status FROM credentials WHERE identifier = 'chosen-name'"),
    done: () => ({ identifier: 'chosen-name', status: 'pending' }),
  },
  {
    name: 'Generate Client Credentials',
    as: 'admin@a.test',
    path: () => '/admin/api/oauth/generate',
    body: { scopes: ['claims:read', 'documents:read'] },
    hxTarget: 'oauth-area',
    plainStatus: 200,
    htmxStatus: 200,
    effect: (ctx, w) => one(ctx, "SELECT scopes FROM credentials WHERE kind = 'oauth' AND status = 'pending' AND id > ?", w.ids.pendingClient),
    done: () => ({ scopes: 'claims:read documents:read' }),
  },
  {
    name: 'Save (API key, with an overlap)',
    as: 'admin@a.test',
    path: (w) => `/admin/api/basic-auth/${w.ids.pendingKey}/save`,
    body: { overlap: '24h' },
    hxTarget: 'basic-area',
    plainStatus: 303,
    htmxStatus: 200,
    effect: (ctx, w) => one(ctx, 'SELECT status, retires_at - ? AS overlap FROM credentials WHERE id = ?', ctx.clock.now(), w.ids.activeKey),
    done: () => ({ status: 'retiring', overlap: 24 * 60 * MINUTE }),
  },
  {
    name: 'Save (client credentials, with an overlap)',
    as: 'admin@a.test',
    path: (w) => `/admin/api/oauth/${w.ids.pendingClient}/save`,
    body: { overlap: '1h' },
    hxTarget: 'oauth-area',
    plainStatus: 303,
    htmxStatus: 200,
    effect: (ctx, w) => one(ctx, 'SELECT status, retires_at - ? AS overlap FROM credentials WHERE id = ?', ctx.clock.now(), w.ids.activeClient),
    done: () => ({ status: 'retiring', overlap: 60 * MINUTE }),
  },
  {
    name: 'Revoke (API page)',
    as: 'admin@a.test',
    path: (w) => `/admin/api/credentials/${w.ids.activeKey}/revoke`,
    body: { reason: 'Leaked in a build log' },
    hxTarget: 'revoke-basic',
    plainStatus: 303,
    htmxStatus: 200,
    effect: (ctx, w) => one(ctx, 'SELECT status, revoke_reason FROM credentials WHERE id = ?', w.ids.activeKey),
    done: () => ({ status: 'revoked', revoke_reason: 'Leaked in a build log' }),
  },
  {
    name: 'Revoke (operator)',
    as: 'operator@ops.test',
    path: (w) => `/operator/credentials/${w.ids.activeClient}/revoke`,
    body: { reason: 'Compromised laptop' },
    plainStatus: 303,
    htmxStatus: 204,
    effect: (ctx, w) => one(ctx, 'SELECT status, revoke_reason FROM credentials WHERE id = ?', w.ids.activeClient),
    done: () => ({ status: 'revoked', revoke_reason: 'Compromised laptop' }),
  },
  {
    name: 'Send invitation',
    as: 'operator@ops.test',
    path: (w) => `/operator/companies/${w.ids.companyA}/invitations`,
    body: { email: 'new-admin@a.test', isOperator: 'on' },
    hxTarget: 'invite',
    plainStatus: 201,
    htmxStatus: 201,
    effect: (ctx) => one(ctx, "SELECT is_operator FROM users WHERE email = 'new-admin@a.test'"),
    done: () => ({ is_operator: 1 }),
  },
  {
    name: 'Rotate signing key',
    as: 'operator@ops.test',
    path: () => '/operator/signing-keys/rotate',
    body: {},
    plainStatus: 303,
    htmxStatus: 204,
    effect: (ctx) => one(ctx, "SELECT status FROM signing_keys WHERE created_by = 'operator@ops.test'"),
    done: () => ({ status: 'active' }),
  },
  {
    name: 'Retire the signing key now',
    as: 'operator@ops.test',
    path: () => '/operator/signing-keys/retire-now',
    body: { confirm: 'on' },
    hxTarget: 'signing-keys',
    plainStatus: 303,
    htmxStatus: 204,
    effect: (ctx) => one(ctx, "SELECT status FROM signing_keys WHERE retired_by = 'operator@ops.test'"),
    done: () => ({ status: 'retired' }),
  },
  {
    name: 'End overlap now',
    as: 'admin@a.test',
    path: (w) => `/admin/api/credentials/${w.ids.activeKey}/end-overlap`,
    body: {},
    hxTarget: 'revoke-basic',
    plainStatus: 303,
    htmxStatus: 200,
    effect: (ctx, w) => one(ctx, 'SELECT status FROM credentials WHERE id = ?', w.ids.activeKey),
    done: () => ({ status: 'retired' }),
    // Saving the pending key with a 24-hour overlap (the check is fresh: just signed in) puts the active one in its overlap.
    prepare: async (_ctx, w, agent) => {
      const saved = await agent.post(`/admin/api/basic-auth/${w.ids.pendingKey}/save`).type('form').send({ _csrf: agent.csrf, overlap: '24h' });
      if (saved.status !== 303) throw new Error(`Save answered ${saved.status}`);
    },
  },
  {
    name: 'Edit an IP allowlist',
    as: 'admin@a.test',
    path: (w) => `/admin/api/credentials/${w.ids.activeKey}/allowlist`,
    body: { allowlist: '203.0.113.0/24' },
    hxTarget: 'basic-area',
    plainStatus: 303,
    htmxStatus: 200,
    effect: (ctx, w) => one(ctx, 'SELECT allowed_ranges FROM credentials WHERE id = ?', w.ids.activeKey),
    done: () => ({ allowed_ranges: '203.0.113.0/24' }),
  },
  {
    name: 'Add an authenticator app',
    as: 'admin@a.test',
    path: () => '/account/security/totp',
    body: {},
    hxTarget: 'security-panel',
    plainStatus: 201,
    htmxStatus: 201,
    effect: (ctx, w) => one(ctx, 'SELECT COUNT(*) AS n FROM totp_factors WHERE user_id = ?', w.ids.adminA),
    done: () => ({ n: 1 }),
  },
  {
    name: 'Remove an authenticator app',
    as: 'admin@a.test',
    path: () => `/account/security/totp/${own.totp}/remove`,
    body: {},
    plainStatus: 303,
    htmxStatus: 303,
    effect: (ctx, w) => one(ctx, 'SELECT COUNT(*) AS n FROM totp_factors WHERE user_id = ?', w.ids.adminA),
    done: () => ({ n: 0 }),
    prepare: seedAuthenticator,
  },
  {
    name: 'New recovery codes',
    as: 'admin@a.test',
    path: () => '/account/security/recovery-codes',
    body: {},
    hxTarget: 'security-panel',
    plainStatus: 200,
    htmxStatus: 200,
    effect: (ctx, w) => one(ctx, 'SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ?', w.ids.adminA),
    done: () => ({ n: 10 }),
    prepare: seedAuthenticator,
  },
  {
    name: 'Remove a passkey',
    as: 'admin@a.test',
    path: () => `/account/passkeys/${own.passkey}/delete`,
    body: {},
    hxTarget: 'passkey-list',
    plainStatus: 303,
    htmxStatus: 200,
    effect: (ctx, w) => one(ctx, 'SELECT COUNT(*) AS n FROM passkeys WHERE user_id = ?', w.ids.adminA),
    done: () => ({ n: 0 }),
    prepare: seedPasskey,
  },
];

/** Numbers from PostgreSQL's bigint arrive as strings: compare the effect as plain values. */
const plain = (value: unknown): unknown =>
  value === null ? null : JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v)));

/** The hidden fields of the re-authentication form (the page's layout has forms of its own). */
const hidden = (html: string, name: string): string[] =>
  [...reauthSection(html).matchAll(new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`, 'g'))].map((m) => m[1]);

const reauthSection = (html: string): string => {
  const start = html.indexOf('class="card reauth');
  return start < 0 ? '' : html.slice(start, html.indexOf('</section>', start));
};

describe('sudo mode: sensitive actions need a check of the person within 10 minutes', () => {
  let ctx: TestContext;
  let world: World;
  beforeEach(async () => {
    ctx = createTestContext();
    world = await seedWorld(ctx);
  });
  afterEach(() => ctx.close());

  const agentFor = async (a: Action) => {
    const agent = await signIn(ctx.app, a.as);
    await a.prepare?.(ctx, world, agent);
    return agent;
  };
  const post = (agent: Agent, a: Action, extra: Record<string, string> = {}, headers: Record<string, string> = {}) =>
    agent
      .post(a.path(world))
      .set(headers)
      .type('form')
      .send({ _csrf: agent.csrf, ...a.body, ...extra });
  const htmxFor = (a: Action) => ({ ...htmx, ...(a.hxTarget ? { 'HX-Target': a.hxTarget } : {}) });

  describe.each(ACTIONS)('$name', (a) => {
    it('goes straight through within 10 minutes of signing in', async () => {
      const agent = await agentFor(a);
      ctx.clock.advance(10 * MINUTE - 1);
      const res = await post(agent, a);
      expect(res.status).toBe(a.plainStatus);
      expect(plain(await a.effect(ctx, world))).toEqual(a.done(world));
    });

    it('without script, a stale check answers 401 with a password page that carries the action and its fields, and does nothing', async () => {
      const agent = await agentFor(a);
      const before = plain(await a.effect(ctx, world));
      ctx.clock.advance(STALE);
      const res = await post(agent, a);
      expect(res.status).toBe(401);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.text).toContain('<h1>Confirm it’s you</h1>');
      expect(res.text).toContain(`<form method="post" action="${a.path(world)}" novalidate>`);
      expect(res.text).toMatch(/<input id="f-reauth_password" name="reauth_password" type="password" value=""/);
      for (const [name, value] of Object.entries(a.body)) expect(hidden(res.text, name)).toEqual([value].flat());
      expect(hidden(res.text, '_csrf')).toEqual([agent.csrf]);
      expect(res.text).not.toContain('hx-post');
      expect(plain(await a.effect(ctx, world))).toEqual(before);
    });

    it('without script, the right password does the original action with the original input', async () => {
      const agent = await agentFor(a);
      ctx.clock.advance(STALE);
      const asked = await post(agent, a);
      expect(asked.status).toBe(401);
      // What the browser posts back: the page's hidden fields (the action's own) and the password.
      const res = await post(agent, a, { _csrf: csrfFrom(asked.text), reauth_password: PASSWORD });
      expect(res.status).toBe(a.plainStatus);
      expect(plain(await a.effect(ctx, world))).toEqual(a.done(world));
    });

    it('with htmx, a stale check swaps the same form into the action’s target, and the answer swaps the action’s result there', async () => {
      const agent = await agentFor(a);
      const before = plain(await a.effect(ctx, world));
      ctx.clock.advance(STALE);
      const asked = await post(agent, a, {}, htmxFor(a));
      expect(asked.status).toBe(401);
      expect(asked.text).not.toContain('<html');
      expect(asked.text).toContain('<h2>Confirm it’s you</h2>');
      if (a.hxTarget) {
        expect(asked.headers['hx-retarget']).toBe(`#${a.hxTarget}`);
        expect(asked.headers['hx-reswap']).toBe('outerHTML');
        expect(asked.text).toContain(`<section id="${a.hxTarget}" class="card reauth"`);
        expect(asked.text).toContain(`hx-post="${a.path(world)}" hx-target="#${a.hxTarget}" hx-swap="outerHTML"`);
      } else {
        // No element id to come back to: the question takes the main area as a plain form.
        expect(asked.headers['hx-retarget']).toBe('#main');
        expect(asked.headers['hx-reswap']).toBe('innerHTML');
        expect(asked.text).not.toContain('hx-post');
      }
      for (const [name, value] of Object.entries(a.body)) expect(hidden(asked.text, name)).toEqual([value].flat());
      expect(plain(await a.effect(ctx, world))).toEqual(before);

      const res = await post(agent, a, { reauth_password: PASSWORD }, a.hxTarget ? htmxFor(a) : {});
      expect(res.status).toBe(a.hxTarget ? a.htmxStatus : a.plainStatus);
      expect(plain(await a.effect(ctx, world))).toEqual(a.done(world));
    });

    it('a wrong password answers the form again with the error, keeps the fields and does nothing', async () => {
      const agent = await agentFor(a);
      const before = plain(await a.effect(ctx, world));
      ctx.clock.advance(STALE);
      const res = await post(agent, a, { reauth_password: 'not my password' });
      expect(res.status).toBe(401);
      expect(res.text).toContain('That is not your password. Nothing was done; try again.');
      expect(res.text).toContain('aria-invalid="true"');
      for (const [name, value] of Object.entries(a.body)) expect(hidden(res.text, name)).toEqual([value].flat());
      expect(hidden(res.text, 'reauth_password')).toEqual([]);
      expect(plain(await a.effect(ctx, world))).toEqual(before);
    });
  });

  describe('the check', () => {
    const generate = ACTIONS[0];

    it('lasts 10 minutes from the answer: the next action goes straight through, one made 10 minutes later asks again', async () => {
      const agent = await agentFor(generate);
      ctx.clock.advance(STALE);
      expect((await post(agent, generate, { reauth_password: PASSWORD })).status).toBe(200);
      ctx.clock.advance(10 * MINUTE - 1);
      const save = await agent.post(`/admin/api/basic-auth/${world.ids.pendingKey}/save`).type('form').send({ _csrf: agent.csrf });
      expect(save.status).toBe(303);
      ctx.clock.advance(1);
      expect((await post(agent, generate, { username: 'later-name' })).status).toBe(401);
    });

    it('keeps the Generate → copy → Save flow at two requests when the check is fresh', async () => {
      const agent = await agentFor(generate);
      const { id, key } = await generateApiKey(agent, 'flow-name');
      expect(isWellFormed(key, API_KEY_PREFIX)).toBe(true);
      const saved = await agent.post(`/admin/api/basic-auth/${id}/save`).type('form').send({ _csrf: agent.csrf });
      expect(saved.status).toBe(303);
      expect(await one(ctx, 'SELECT status FROM credentials WHERE id = ?', id)).toEqual({ status: 'active' });
    });

    it('with a stale check: Generate → password → the key appears, and Save works after', async () => {
      const agent = await agentFor(generate);
      ctx.clock.advance(STALE);
      const asked = await post(agent, generate, {}, htmxFor(generate));
      expect(asked.status).toBe(401);
      const res = await post(agent, generate, { reauth_password: PASSWORD }, htmxFor(generate));
      expect(res.status).toBe(200);
      expect(fieldValue(res.text, 'basic-username')).toBe('chosen-name');
      expect(fieldValue(res.text, 'basic-key')).toBeTruthy();
      expect(res.headers['cache-control']).toBe('no-store');
      const saved = await agent
        .post(`/admin/api/basic-auth/${saveIdIn(res.text, 'basic-auth')}/save`)
        .set(htmxFor(generate))
        .type('form')
        .send({ _csrf: agent.csrf });
      expect(saved.status).toBe(200);
      expect(saved.text).toContain('API key saved.');
    });

    it('audits a wrong answer as auth.reauth_failed and a right one as auth.reauth, with who and from where', async () => {
      const agent = await agentFor(generate);
      ctx.clock.advance(STALE);
      await post(agent, generate, { reauth_password: 'wrong' });
      await post(agent, generate, { reauth_password: PASSWORD });
      const rows = await ctx.query<{ action: string; actor: string; target: string; company_id: number | string; ip: string | null }>(
        "SELECT action, actor, target, company_id, ip FROM audit_log WHERE action LIKE 'auth.reauth%' ORDER BY id",
      );
      expect(rows.map((r) => [r.action, r.actor, r.target, Number(r.company_id)])).toEqual([
        ['auth.reauth_failed', 'admin@a.test', 'admin@a.test', world.ids.companyA],
        ['auth.reauth', 'admin@a.test', 'admin@a.test', world.ids.companyA],
      ]);
      expect(rows.every((r) => typeof r.ip === 'string' && r.ip !== '')).toBe(true);
    });

    it('throttles like sign-in: after 5 wrong answers even the right one waits, and the form says how long', async () => {
      const agent = await agentFor(generate);
      ctx.clock.advance(STALE);
      for (let i = 0; i < 5; i++) expect((await post(agent, generate, { reauth_password: `wrong ${i}` })).status).toBe(401);
      const res = await post(agent, generate, { reauth_password: PASSWORD });
      expect(res.status).toBe(429);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.text).toMatch(/Too many password attempts\. Please wait \d+ minutes? and try again\. Nothing was done\./);
      expect(hidden(res.text, 'username')).toEqual(['chosen-name']);
      expect(await one(ctx, "SELECT id FROM credentials WHERE identifier = 'chosen-name'")).toBeNull();
      // The account's window is sign-in's: signing in again waits too.
      const signInAgain = await signIn(ctx.app, generate.as).catch((err: Error) => err);
      expect(signInAgain).toBeInstanceOf(Error);
      ctx.clock.advance(15 * MINUTE);
      expect((await post(agent, generate, { reauth_password: PASSWORD })).status).toBe(200);
    });

    it.each([
      ['an empty password', '', 'Enter your password.'],
      ['one over 72 bytes', 'é'.repeat(37), 'Passwords are at most 72 bytes.'],
    ])('refuses %s with 422 and says why, without counting a guess', async (_label, password, message) => {
      const agent = await agentFor(generate);
      ctx.clock.advance(STALE);
      const res: Response = await post(agent, generate, { reauth_password: password });
      expect(res.status).toBe(422);
      expect(res.text).toContain(message);
      expect(await ctx.query("SELECT id FROM audit_log WHERE action LIKE 'auth.reauth%'")).toEqual([]);
    });

    it('checks a password sent with a fresh check too (a form that asked for it means it)', async () => {
      const agent = await agentFor(generate);
      const res = await post(agent, generate, { reauth_password: 'wrong' });
      expect(res.status).toBe(401);
      expect(await one(ctx, "SELECT id FROM credentials WHERE identifier = 'chosen-name'")).toBeNull();
    });

    it('offers Cancel back to the page the htmx request came from, or else to the action’s section', async () => {
      const agent = await agentFor(generate);
      ctx.clock.advance(STALE);
      const fromPage = await post(agent, generate, {}, { ...htmxFor(generate), 'HX-Current-URL': 'http://127.0.0.1:3000/admin/api?area=basic' });
      expect(fromPage.text).toContain('<a href="/admin/api?area=basic">Cancel</a>');
      for (const odd of ['not a URL', 'http://127.0.0.1:3000//evil.example/x', 'http://127.0.0.1:3000/%09/evil.example']) {
        const res = await post(agent, generate, {}, { ...htmxFor(generate), 'HX-Current-URL': odd });
        expect(res.text).toContain('<a href="/admin/api">Cancel</a>');
      }
      const plainPost = await post(agent, generate);
      expect(plainPost.text).toContain('<a href="/admin/api">Cancel</a>');
    });

    it('offers an authenticator code instead of the password only to someone with an authenticator app', async () => {
      const agent = await agentFor(generate);
      ctx.clock.advance(STALE);
      const without = await post(agent, generate);
      expect(without.text).not.toContain('name="reauth_code"');
      await seedAuthenticator(ctx, world);
      const withApp = await post(agent, generate);
      expect(withApp.status).toBe(401);
      expect(withApp.text).toMatch(/<input id="f-reauth_code" name="reauth_code" type="text" value=""/);
      expect(withApp.text).toContain('Or a code from your authenticator app');
    });

    it('accepts a current authenticator code instead of the password, once: the same code in another session is refused', async () => {
      const first = await agentFor(generate);
      const second = await signIn(ctx.app, generate.as);
      await seedAuthenticator(ctx, world);
      ctx.clock.advance(STALE);
      const code = codeAt(AUTHENTICATOR_KEY, ctx.clock.now());
      const accepted = await post(first, generate, { reauth_code: code });
      expect(accepted.status).toBe(200);
      expect(await one(ctx, "SELECT status FROM credentials WHERE identifier = 'chosen-name'")).toEqual({ status: 'pending' });
      const replayed = await post(second, generate, { username: 'second-name', reauth_code: code });
      expect(replayed.status).toBe(401);
      expect(replayed.text).toContain('That code does not match, or it was already used.');
      expect(hidden(replayed.text, 'username')).toEqual(['second-name']);
      expect(await one(ctx, "SELECT id FROM credentials WHERE identifier = 'second-name'")).toBeNull();
      const audit = await ctx.query<{ action: string; details: string }>("SELECT action, details FROM audit_log WHERE action LIKE 'auth.reauth%' ORDER BY id");
      expect(audit.map((r) => [r.action, JSON.parse(r.details) as unknown])).toEqual([
        ['auth.reauth', { answer: 'authenticator_code' }],
        ['auth.reauth_failed', { answer: 'authenticator_code' }],
      ]);
    });

    it('refuses an authenticator code that is not six digits with 422, without counting a guess', async () => {
      const agent = await agentFor(generate);
      await seedAuthenticator(ctx, world);
      ctx.clock.advance(STALE);
      const res = await post(agent, generate, { reauth_code: '12345x' });
      expect(res.status).toBe(422);
      expect(res.text).toContain('An authenticator code is the six digits your app shows now.');
      expect(await ctx.query("SELECT id FROM audit_log WHERE action LIKE 'auth.reauth%'")).toEqual([]);
    });

    it('asks a script’s JSON request (adding a passkey) in JSON, and lets it through with the password', async () => {
      const agent = await agentFor(generate);
      ctx.clock.advance(STALE);
      const json = (body: object) => agent.post('/account/passkeys/options').set('X-CSRF-Token', agent.csrf).send(body);
      const asked = await json({ name: 'Laptop' });
      expect(asked.status).toBe(401);
      expect(asked.body).toEqual({
        error: 'reauthentication_required',
        error_description: expect.stringContaining('Confirm it’s you') as unknown,
        errors: { reauth_password: expect.stringContaining('enter your password') as unknown },
      });
      const wrong = await json({ name: 'Laptop', reauth_password: 'not my password' });
      expect(wrong.status).toBe(401);
      expect(wrong.body).toMatchObject({
        error: 'reauthentication_required',
        errors: { reauth_password: 'That is not your password. Nothing was done; try again.' },
      });
      const answered = await json({ name: 'Laptop', reauth_password: PASSWORD });
      expect(answered.status).toBe(200);
      expect(typeof (answered.body as { challenge?: unknown }).challenge).toBe('string');
    });

    it('shows the passkey add form’s password field when the check is old, not when it is fresh', async () => {
      const agent = await agentFor(generate);
      const fresh = await agent.get('/account/passkeys');
      expect(fresh.text).toMatch(/<div data-reauth-field hidden>/);
      ctx.clock.advance(STALE);
      const stale = await agent.get('/account/passkeys');
      expect(stale.text).toMatch(/<div data-reauth-field>/);
      expect(stale.text).toContain('name="reauth_password"');
    });

    it('ignores an HX-Target that is not a plain element id (the question takes the main area)', async () => {
      const agent = await agentFor(generate);
      ctx.clock.advance(STALE);
      const res = await post(agent, generate, {}, { ...htmx, 'HX-Target': 'x"], body, [id="y' });
      expect(res.status).toBe(401);
      expect(res.headers['hx-retarget']).toBe('#main');
      expect(res.text).not.toContain('hx-post');
    });
  });
});
