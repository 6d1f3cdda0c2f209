import crypto from 'node:crypto';
import request from 'supertest';
import { HOUR, MINUTE } from '../src/clock';
import { DatabaseSessionStore } from '../src/http/session-store';
import { resetPassword } from '../src/ops/reset-password';
import { anonymousAgent, createTestContext, csrfFrom, PASSWORD, seedCompany, seedUser, signIn, queryValue, queryColumn } from './helpers';
import type { Agent, SeededUser, TestContext } from './helpers';

describe('session timeouts (on the injected clock)', () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = createTestContext();
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
  });
  afterEach(() => ctx.close());

  it('ends a session idle for more than an hour', async () => {
    const agent = await signIn(ctx.app, 'admin@acme.test');
    ctx.clock.advance(59 * MINUTE);
    expect((await agent.get('/audit')).status).toBe(200);

    ctx.clock.advance(HOUR + 1000);
    const res = await agent.get('/audit');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/sign-in?next=%2Faudit');
  });

  it('keeps an active session going, but never past 12 hours after sign-in', async () => {
    const agent = await signIn(ctx.app, 'admin@acme.test');
    for (let elapsed = 50; elapsed < 12 * 60; elapsed += 50) {
      ctx.clock.advance(50 * MINUTE);
      expect({ elapsed, status: (await agent.get('/audit')).status }).toEqual({ elapsed, status: 200 });
    }
    ctx.clock.advance(12 * HOUR - 14 * 50 * MINUTE); // exactly 12 h after sign-in
    const res = await agent.get('/audit');
    expect(res.status).toBe(303);
    expect(res.headers.location).toMatch(/^\/sign-in/);
    // The expired session is gone from the store, not just ignored.
    expect(await queryValue(ctx, 'SELECT COUNT(*) FROM sessions WHERE user_id IS NOT NULL')).toBe(0);
  });

  it('deletes abandoned sessions from the store as time goes by', async () => {
    await signIn(ctx.app, 'admin@acme.test');
    expect(await queryValue(ctx, 'SELECT COUNT(*) FROM sessions')).toBe(1);
    ctx.clock.advance(2 * HOUR);
    await signIn(ctx.app, 'admin@acme.test'); // any session saved triggers the clean-up
    expect(await queryValue(ctx, 'SELECT COUNT(*) FROM sessions')).toBe(1);
    expect(await queryValue(ctx, 'SELECT COUNT(*) FROM sessions WHERE expires_at > ?', ctx.clock.now())).toBe(1);
  });
});

describe('a disabled user', () => {
  let ctx: TestContext;
  beforeEach(() => {
    ctx = createTestContext();
  });
  afterEach(() => ctx.close());

  it('is signed out everywhere the moment an operator disables them', async () => {
    const ops = await seedCompany(ctx, 'Operators', 'ops@example.test', { operator: true });
    const admin = await seedUser(ctx, ops.companyId, 'admin@example.test');
    const adminLaptop = await signIn(ctx.app, admin.email);
    const adminPhone = await signIn(ctx.app, admin.email);
    const operator = await signIn(ctx.app, ops.email);

    const res = await operator.post(`/operator/companies/${ops.companyId}/users/${admin.userId}/disable`).type('form').send({ _csrf: operator.csrf });
    expect(res.status).toBe(303);

    for (const agent of [adminLaptop, adminPhone]) {
      const page = await agent.get('/audit');
      expect(page.status).toBe(303);
      expect(page.headers.location).toMatch(/^\/sign-in/);
    }
    const again = await request(ctx.app).get('/sign-in');
    const signInAgain = await request(ctx.app)
      .post('/sign-in')
      .set('Cookie', String(again.headers['set-cookie']).split(';')[0])
      .type('form')
      .send({ _csrf: csrfFrom(again.text), email: admin.email, password: PASSWORD });
    expect(signInAgain.status).toBe(401);
  });

  it('loses a still-stored session on the next request (disabled straight in the database)', async () => {
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
    const agent = await signIn(ctx.app, 'admin@acme.test');
    await ctx.query('UPDATE users SET disabled_at = ? WHERE email = ?', ctx.clock.now(), 'admin@acme.test');

    const htmx = await agent.get('/audit').set('HX-Request', 'true');
    expect(htmx.status).toBe(401);
    expect(htmx.headers['hx-redirect']).toBe('/sign-in');
    expect((await agent.get('/audit')).status).toBe(303);
  });
});

describe('secure cookies when PUBLIC_URL is https', () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = createTestContext({ PUBLIC_URL: 'https://console.example.test', TRUST_PROXY: 'loopback' });
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
  });
  afterEach(() => ctx.close());

  const viaProxy = (req: request.Test) => req.set('X-Forwarded-Proto', 'https').set('Host', 'console.example.test');

  it('names the cookies __Host-console.csrf (sign-in form) and __Host-console.sid (session), Secure, with no Domain', async () => {
    const page = await viaProxy(request(ctx.app).get('/sign-in'));
    expect(page.status).toBe(200);
    expect(page.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    const preSession = ([] as string[]).concat(page.headers['set-cookie'] ?? []);
    expect(preSession).toHaveLength(1);
    const res = await viaProxy(request(ctx.app).post('/sign-in'))
      .set('Cookie', preSession[0].split(';')[0])
      .type('form')
      .send({ _csrf: csrfFrom(page.text), email: 'admin@acme.test', password: PASSWORD });
    expect(res.status).toBe(303);
    const session = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('__Host-console.sid='));
    for (const cookie of [preSession[0], session]) {
      expect(cookie).toMatch(/^__Host-console\.(csrf|sid)=/);
      expect(cookie).toMatch(/; Path=\//);
      expect(cookie).toMatch(/; Secure/);
      expect(cookie).toMatch(/; HttpOnly/);
      expect(cookie).toMatch(/; SameSite=Lax/);
      expect(cookie).not.toMatch(/Domain=/i);
    }
  });

  it('signs in and out over the proxy; the cleared cookie is Secure too (else browsers ignore it)', async () => {
    const page = await viaProxy(request(ctx.app).get('/sign-in'));
    const before = String(page.headers['set-cookie']).split(';')[0];
    const res = await viaProxy(request(ctx.app).post('/sign-in'))
      .set('Cookie', before)
      .set('Origin', 'https://console.example.test')
      .type('form')
      .send({ _csrf: csrfFrom(page.text), email: 'admin@acme.test', password: PASSWORD });
    expect(res.status).toBe(303);
    const cookie = String(res.headers['set-cookie']).split(';')[0];
    expect(cookie).toMatch(/^__Host-console\.sid=/);

    const audit = await viaProxy(request(ctx.app).get('/audit')).set('Cookie', cookie);
    expect(audit.status).toBe(200);
    const out = await viaProxy(request(ctx.app).post('/sign-out'))
      .set('Cookie', cookie)
      .type('form')
      .send({ _csrf: csrfFrom(audit.text) });
    expect(out.status).toBe(303);
    const cleared = ([] as string[]).concat(out.headers['set-cookie'] ?? []).find((c) => c.startsWith('__Host-console.sid=;'));
    expect(cleared).toMatch(/; Secure/);
    expect(cleared).toMatch(/; Path=\//);
  });

  it('sets no cookie at all on a plain-http request', async () => {
    const res = await request(ctx.app).get('/sign-in');
    expect(res.status).toBe(200);
    expect(res.headers['set-cookie']).toBeUndefined();
  });
});

describe('sessions at rest', () => {
  it('keeps only a digest of the session id: the id in the cookie is not in the database', async () => {
    const ctx = createTestContext();
    try {
      await seedCompany(ctx, 'Acme', 'admin@acme.test');
      const anon = await request(ctx.app).get('/sign-in');
      const cookie = String(anon.headers['set-cookie']).split(';')[0];
      const nonce = cookie.split('=')[1]; // the sign-in form's pre-session cookie
      const res = await request(ctx.app)
        .post('/sign-in')
        .set('Cookie', cookie)
        .type('form')
        .send({ _csrf: csrfFrom(anon.text), email: 'admin@acme.test', password: PASSWORD });
      expect(res.status).toBe(303);
      const rows = (await queryColumn(ctx, 'SELECT sid FROM sessions')) as string[];
      expect(rows).toHaveLength(1);
      const signedIn = String(res.headers['set-cookie']).split(';')[0];
      const sid = decodeURIComponent(signedIn.split('=')[1]).slice(2).split('.')[0]; // s:<id>.<signature>
      for (const id of [nonce, sid]) {
        expect(id.length).toBeGreaterThan(20);
        expect(rows).not.toContain(id);
      }
      expect(rows).toEqual([crypto.createHash('sha256').update(sid).digest('base64url')]);
    } finally {
      await ctx.close();
    }
  });
});

describe('a session deleted while one of its requests is in flight', () => {
  let ctx: TestContext;
  let admin: SeededUser;
  beforeEach(async () => {
    ctx = createTestContext();
    admin = await seedCompany(ctx, 'Acme', 'admin@acme.test');
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await ctx.close();
  });

  const sessionsOf = (userId: number): Promise<unknown> => queryValue(ctx, 'SELECT COUNT(*) FROM sessions WHERE user_id = ?', userId);

  /**
   * Starts a request from `stolen` that changes its session (a flash message), and holds it just
   * before the store saves the session: the moment a reset or a removal can slip in.
   */
  async function requestHeldAtSave(stolen: Agent): Promise<{ finish: () => Promise<request.Response> }> {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the store as `this`
    const save = DatabaseSessionStore.prototype.set;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const atSave = new Promise<void>((resolve) => (arrived = resolve));
    jest.spyOn(DatabaseSessionStore.prototype, 'set').mockImplementationOnce(function (this: DatabaseSessionStore, ...args) {
      arrived();
      void released.then(() => save.apply(this, args));
    });
    const inFlight = stolen
      .post('/admin/api/docs-access')
      .type('form')
      .send({ _csrf: stolen.csrf, email: 'dev@acme.test' })
      .then((res) => res);
    await atSave;
    return {
      finish: async () => {
        release();
        return inFlight;
      },
    };
  }

  it('stays deleted after a password reset: the in-flight save does not bring it back', async () => {
    const stolen = await signIn(ctx.app, admin.email);
    const held = await requestHeldAtSave(stolen);

    // The owner resets the password (a reset link, then the invitation page): every session of theirs ends.
    const { link } = await resetPassword({ db: ctx.database, clock: ctx.clock, publicUrl: ctx.config.publicUrl }, admin.email);
    const owner = await anonymousAgent(ctx.app);
    const token = new URL(link).searchParams.get('token');
    const reset = await owner
      .post('/invitation')
      .type('form')
      .send({ _csrf: owner.csrf, token, password: 'a brand new passphrase', confirm: 'a brand new passphrase' });
    expect(reset.status).toBe(303);
    expect(await sessionsOf(admin.userId)).toBe(1); // the owner's new session only

    expect((await held.finish()).status).toBe(303);
    expect(await sessionsOf(admin.userId)).toBe(1);
    const page = await stolen.get('/audit');
    expect(page.status).toBe(303);
    expect(page.headers.location).toBe('/sign-in?next=%2Faudit');
    expect((await owner.get('/audit')).status).toBe(200);
  });

  it('stays deleted after the user is disabled: no row comes back', async () => {
    const operator = await signIn(ctx.app, (await seedCompany(ctx, 'Operators', 'ops@example.test', { operator: true })).email);
    const stolen = await signIn(ctx.app, admin.email);
    const held = await requestHeldAtSave(stolen);

    const disable = await operator.post(`/operator/companies/${admin.companyId}/users/${admin.userId}/disable`).type('form').send({ _csrf: operator.csrf });
    expect(disable.status).toBe(303);
    expect(await sessionsOf(admin.userId)).toBe(0);

    await held.finish();
    expect(await sessionsOf(admin.userId)).toBe(0);
    expect((await stolen.get('/audit')).status).toBe(303);
  });

  it('still saves a session that exists: the in-flight change is kept', async () => {
    const agent = await signIn(ctx.app, admin.email);
    const held = await requestHeldAtSave(agent);
    expect((await held.finish()).status).toBe(303);
    const page = await agent.get('/admin/api/docs-access');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Request sent for dev@acme.test.');
  });
});
