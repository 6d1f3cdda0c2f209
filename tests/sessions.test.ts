import crypto from 'node:crypto';
import request from 'supertest';
import { HOUR, MINUTE } from '../src/clock';
import { createTestContext, csrfFrom, PASSWORD, seedCompany, seedUser, signIn } from './helpers';
import type { TestContext } from './helpers';

describe('session timeouts (on the injected clock)', () => {
  let ctx: TestContext;
  beforeEach(() => {
    ctx = createTestContext();
    seedCompany(ctx.db, 'Acme', 'admin@acme.test');
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
    expect(ctx.db.prepare('SELECT COUNT(*) FROM sessions WHERE user_id IS NOT NULL').pluck().get()).toBe(0);
  });

  it('deletes abandoned sessions from the store as time goes by', async () => {
    await signIn(ctx.app, 'admin@acme.test');
    expect(ctx.db.prepare('SELECT COUNT(*) FROM sessions').pluck().get()).toBe(1);
    ctx.clock.advance(2 * HOUR);
    await signIn(ctx.app, 'admin@acme.test'); // any session saved triggers the clean-up
    expect(ctx.db.prepare('SELECT COUNT(*) FROM sessions').pluck().get()).toBe(1);
    expect(ctx.db.prepare('SELECT COUNT(*) FROM sessions WHERE expires_at > ?').pluck().get(ctx.clock.now())).toBe(1);
  });
});

describe('a disabled user', () => {
  let ctx: TestContext;
  beforeEach(() => {
    ctx = createTestContext();
  });
  afterEach(() => ctx.close());

  it('is signed out everywhere the moment an operator disables them', async () => {
    const ops = seedCompany(ctx.db, 'Operators', 'ops@example.test', { operator: true });
    const admin = seedUser(ctx.db, ops.companyId, 'admin@example.test');
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
    seedCompany(ctx.db, 'Acme', 'admin@acme.test');
    const agent = await signIn(ctx.app, 'admin@acme.test');
    ctx.db.prepare('UPDATE users SET disabled_at = ? WHERE email = ?').run(ctx.clock.now(), 'admin@acme.test');

    const htmx = await agent.get('/audit').set('HX-Request', 'true');
    expect(htmx.status).toBe(401);
    expect(htmx.headers['hx-redirect']).toBe('/sign-in');
    expect((await agent.get('/audit')).status).toBe(303);
  });
});

describe('secure cookies when PUBLIC_URL is https', () => {
  let ctx: TestContext;
  beforeEach(() => {
    ctx = createTestContext({ PUBLIC_URL: 'https://console.example.test', TRUST_PROXY: 'loopback' });
    seedCompany(ctx.db, 'Acme', 'admin@acme.test');
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
    const out = await viaProxy(request(ctx.app).post('/sign-out')).set('Cookie', cookie).type('form').send({ _csrf: csrfFrom(audit.text) });
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
      seedCompany(ctx.db, 'Acme', 'admin@acme.test');
      const anon = await request(ctx.app).get('/sign-in');
      const cookie = String(anon.headers['set-cookie']).split(';')[0];
      const nonce = cookie.split('=')[1]; // the sign-in form's pre-session cookie
      const res = await request(ctx.app).post('/sign-in').set('Cookie', cookie).type('form').send({ _csrf: csrfFrom(anon.text), email: 'admin@acme.test', password: PASSWORD });
      expect(res.status).toBe(303);
      const rows = ctx.db.prepare('SELECT sid FROM sessions').pluck().all() as string[];
      expect(rows).toHaveLength(1);
      const signedIn = String(res.headers['set-cookie']).split(';')[0];
      const sid = decodeURIComponent(signedIn.split('=')[1]).slice(2).split('.')[0]; // s:<id>.<signature>
      for (const id of [nonce, sid]) {
        expect(id.length).toBeGreaterThan(20);
        expect(rows).not.toContain(id);
      }
      expect(rows).toEqual([crypto.createHash('sha256').update(sid).digest('base64url')]);
    } finally {
      ctx.close();
    }
  });
});

