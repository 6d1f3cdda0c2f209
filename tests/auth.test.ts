import bcrypt from 'bcrypt';
import request from 'supertest';
import { createApp } from '../src/app';
import { MINUTE } from '../src/clock';
import { closeApp } from '../src/lifecycle';
import { createLogger } from '../src/log';
import { anonymousAgent, createTestContext, csrfFrom, PASSWORD, seedCompany, signIn, queryValue, queryColumn } from './helpers';
import type { TestContext } from './helpers';

/** The cookie `name` a response set, as `name=value` for a Cookie header. */
function cookieSet(res: request.Response, name: string): string {
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const cookie = cookies.find((c) => c.startsWith(`${name}=`));
  if (!cookie) throw new Error(`no ${name} cookie in ${JSON.stringify(cookies)}`);
  return cookie.split(';')[0];
}
const sessionCookie = (res: request.Response): string => cookieSet(res, 'console.sid');

const audit = (ctx: TestContext) =>
  ctx.query<{ action: string; actor: string; target: string | null; companyId: number | null; ip: string | null }>(
    'SELECT action, actor, target, company_id AS "companyId", ip FROM audit_log ORDER BY id',
  );

describe('POST /sign-in', () => {
  let ctx: TestContext;
  let acme: Awaited<ReturnType<typeof seedCompany>>;
  beforeEach(async () => {
    ctx = createTestContext();
    acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
  });
  afterEach(() => ctx.close());

  it('shows the sign-in form to a visitor and sends the console to it', async () => {
    const page = await request(ctx.app).get('/sign-in');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('<h1>Sign in</h1>');
    expect(page.text).toMatch(/name="_csrf" value="[^"]+"/);

    const console = await request(ctx.app).get('/audit?action=auth');
    expect(console.status).toBe(303);
    expect(console.headers.location).toBe('/sign-in?next=%2Faudit%3Faction%3Dauth');
  });

  it('signs in with the right password (any case of the email), records it, and goes to next', async () => {
    const agent = await anonymousAgent(ctx.app);
    const res = await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email: ' Admin@ACME.test ', password: PASSWORD, next: '/audit' });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/audit');

    const page = await agent.get('/audit');
    expect(page.status).toBe(200);
    expect(page.text).toContain('admin@acme.test · Acme');
    expect(await audit(ctx)).toEqual([
      { action: 'auth.sign_in', actor: 'admin@acme.test', target: 'admin@acme.test', companyId: acme.companyId, ip: expect.stringContaining('127.0.0.1') },
    ]);
    expect(await queryValue(ctx, 'SELECT last_sign_in_at FROM users WHERE id = ?', acme.userId)).toBe(ctx.clock.now());
  });

  it.each(['https://evil.example/', '//evil.example/', '/\\evil.example'])('never redirects off-site after sign-in (next=%s)', async (next) => {
    const agent = await anonymousAgent(ctx.app);
    const res = await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email: 'admin@acme.test', password: PASSWORD, next });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/');
  });

  it('refuses a wrong password with one generic message and keeps the email typed', async () => {
    const agent = await anonymousAgent(ctx.app);
    const wrong = await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email: 'admin@acme.test', password: 'not the password' });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('That email and password do not match an active account.');
    expect(wrong.text).toContain('value="admin@acme.test"');
    expect(wrong.text).not.toContain('not the password');

    const unknown = await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email: 'nobody@acme.test', password: 'not the password' });
    expect(unknown.status).toBe(401);
    expect(unknown.text).toContain('That email and password do not match an active account.');

    expect((await agent.get('/audit')).status).toBe(303);
    expect((await audit(ctx)).map((e) => [e.action, e.target])).toEqual([
      ['auth.sign_in_failed', 'admin@acme.test'],
      ['auth.sign_in_failed', 'nobody@acme.test'],
    ]);
  });

  it('asks for both fields', async () => {
    const agent = await anonymousAgent(ctx.app);
    const res = await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email: '', password: '' });
    expect(res.status).toBe(422);
    expect(res.text).toContain('Enter your email address.');
    expect(res.text).toContain('Enter your password.');
  });

  it.each([
    ['markup and quotes', '"><img src=x onerror=alert(1)>@acme.test', 401, 'That email and password do not match an active account.'],
    ['10 kB', `${'a'.repeat(10_240)}@acme.test`, 422, 'An email address is at most 254 characters.'],
  ])('answers a hostile email (%s) kindly and escaped, never a 500', async (_label, email, status, message) => {
    const agent = await anonymousAgent(ctx.app);
    const res = await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email, password: 'whatever' });
    expect(res.status).toBe(status);
    expect(res.text).toContain(message);
    expect(res.text).not.toContain('<img src=x');
    if (status === 401) expect(res.text).toContain('value="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;@acme.test"');
  });

  it('refuses a password over 72 bytes with a clear message', async () => {
    const agent = await anonymousAgent(ctx.app);
    const res = await agent
      .post('/sign-in')
      .type('form')
      .send({ _csrf: agent.csrf, email: 'admin@acme.test', password: `${PASSWORD}${'x'.repeat(60)}` });
    expect(res.status).toBe(422);
    expect(res.text).toContain('Passwords are at most 72 bytes.');
  });

  it('does not sign in a disabled or not-yet-invited user', async () => {
    await ctx.query('UPDATE users SET disabled_at = ? WHERE id = ?', ctx.clock.now(), acme.userId);
    await ctx.query('INSERT INTO users (company_id, email, password_hash, created_at) VALUES (?, ?, NULL, 0)', acme.companyId, 'invited@acme.test');
    const agent = await anonymousAgent(ctx.app);
    for (const email of ['admin@acme.test', 'invited@acme.test']) {
      const res = await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email, password: PASSWORD });
      expect(res.status).toBe(401);
      expect(res.text).toContain('That email and password do not match an active account.');
    }
  });

  it('regenerates the session: the pre-sign-in cookie and CSRF token no longer work', async () => {
    const before = await request(ctx.app).get('/sign-in');
    const oldCookie = cookieSet(before, 'console.csrf'); // anonymous forms have no session (docs/decisions/0007)
    const oldCsrf = csrfFrom(before.text);

    const res = await request(ctx.app)
      .post('/sign-in')
      .set('Cookie', oldCookie)
      .type('form')
      .send({ _csrf: oldCsrf, email: 'admin@acme.test', password: PASSWORD });
    expect(res.status).toBe(303);
    const newCookie = sessionCookie(res);
    expect(newCookie).not.toBe(oldCookie);

    // The pre-sign-in cookie signs nobody in...
    const withOld = await request(ctx.app).get('/audit').set('Cookie', oldCookie);
    expect(withOld.status).toBe(303);
    expect(withOld.headers.location).toMatch(/^\/sign-in/);
    // ...and the new session has its own CSRF token: the old one is refused, even with the old cookie sent along.
    const signOut = await request(ctx.app).post('/sign-out').set('Cookie', `${newCookie}; ${oldCookie}`).type('form').send({ _csrf: oldCsrf });
    expect(signOut.status).toBe(403);

    const withNew = await request(ctx.app).get('/audit').set('Cookie', newCookie);
    expect(withNew.status).toBe(200);
  });

  it('marks the session cookie HttpOnly and SameSite=Lax, without Secure on plain http', async () => {
    const agent = await anonymousAgent(ctx.app);
    const res = await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email: 'admin@acme.test', password: PASSWORD });
    const cookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('console.sid='));
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).not.toMatch(/; Secure/);
  });
});

describe('sign-in throttling', () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = createTestContext();
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
  });
  afterEach(() => ctx.close());

  it('blocks an account after 5 failures for 15 minutes, even with the right password, then lets it in', async () => {
    const agent = await anonymousAgent(ctx.app);
    for (let i = 0; i < 5; i++) {
      const res = await agent
        .post('/sign-in')
        .type('form')
        .send({ _csrf: agent.csrf, email: 'admin@acme.test', password: `wrong ${i}` });
      expect(res.status).toBe(401);
    }
    const blocked = await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email: 'admin@acme.test', password: PASSWORD });
    expect(blocked.status).toBe(429);
    expect(blocked.headers['retry-after']).toBe('900');
    expect(blocked.text).toContain('Too many sign-in attempts. Please wait 15 minutes and try again.');
    expect((await agent.get('/audit')).status).toBe(303);

    ctx.clock.advance(10 * MINUTE);
    const stillBlocked = await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email: 'admin@acme.test', password: PASSWORD });
    expect(stillBlocked.status).toBe(429);
    expect(stillBlocked.headers['retry-after']).toBe('300');

    ctx.clock.advance(5 * MINUTE + 1000);
    const ok = await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email: 'admin@acme.test', password: PASSWORD });
    expect(ok.status).toBe(303);
  });

  it('lets at most 5 of 25 parallel wrong passwords reach bcrypt, then refuses the right one with the wait', async () => {
    const agent = await anonymousAgent(ctx.app);
    const compare = jest.spyOn(bcrypt, 'compare');
    try {
      const burst = await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          agent
            .post('/sign-in')
            .type('form')
            .send({ _csrf: agent.csrf, email: 'admin@acme.test', password: `wrong ${i}` }),
        ),
      );
      expect(compare).toHaveBeenCalledTimes(5);
      expect(burst.filter((res) => res.status === 401)).toHaveLength(5);
      expect(burst.filter((res) => res.status === 429)).toHaveLength(20);

      const blocked = await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email: 'admin@acme.test', password: PASSWORD });
      expect(blocked.status).toBe(429);
      expect(blocked.headers['retry-after']).toBe('900');
      expect(blocked.text).toContain('Too many sign-in attempts. Please wait 15 minutes and try again.');
      expect(compare).toHaveBeenCalledTimes(5);
      expect((await agent.get('/audit')).status).toBe(303);
    } finally {
      compare.mockRestore();
    }
  });

  it('counts on every server process: 5 failures through one block the account on another (replicas, issue 12)', async () => {
    const other = ctx.openAnother();
    const replica = createApp({ config: ctx.config, database: other.db, clock: ctx.clock, logger: createLogger('silent') });
    try {
      const agent = await anonymousAgent(ctx.app);
      for (let i = 0; i < 5; i++) {
        expect(
          (
            await agent
              .post('/sign-in')
              .type('form')
              .send({ _csrf: agent.csrf, email: 'admin@acme.test', password: `wrong ${i}` })
          ).status,
        ).toBe(401);
      }
      const elsewhere = await anonymousAgent(replica);
      const blocked = await elsewhere.post('/sign-in').type('form').send({ _csrf: elsewhere.csrf, email: 'admin@acme.test', password: PASSWORD });
      expect(blocked.status).toBe(429);
      expect(blocked.headers['retry-after']).toBe('900');
    } finally {
      await closeApp(replica);
      await other.close();
    }
  });

  it('blocks one source address after 20 failures across many accounts', async () => {
    const agent = await anonymousAgent(ctx.app);
    for (let i = 0; i < 20; i++) {
      const res = await agent
        .post('/sign-in')
        .type('form')
        .send({ _csrf: agent.csrf, email: `guess${i}@acme.test`, password: 'guess' });
      expect(res.status).toBe(401);
    }
    const res = await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email: 'admin@acme.test', password: PASSWORD });
    expect(res.status).toBe(429);
  });

  it('does not count a successful sign-in against the account', async () => {
    for (let round = 0; round < 3; round++) {
      const agent = await anonymousAgent(ctx.app);
      for (let i = 0; i < 4; i++) {
        expect((await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email: 'admin@acme.test', password: 'wrong' })).status).toBe(401);
      }
      expect((await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email: 'admin@acme.test', password: PASSWORD })).status).toBe(303);
    }
  });
});

describe('POST /sign-out', () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = createTestContext();
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
  });
  afterEach(() => ctx.close());

  it('ends the session in the store, clears the cookie and records it', async () => {
    const agent = await signIn(ctx.app, 'admin@acme.test');
    expect(await queryValue(ctx, 'SELECT COUNT(*) FROM sessions WHERE user_id IS NOT NULL')).toBe(1);

    const res = await agent.post('/sign-out').type('form').send({ _csrf: agent.csrf });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/sign-in');
    expect(([] as string[]).concat(res.headers['set-cookie'] ?? []).join()).toMatch(/console\.sid=;.*Expires=Thu, 01 Jan 1970/);

    expect(await queryValue(ctx, 'SELECT COUNT(*) FROM sessions WHERE user_id IS NOT NULL')).toBe(0);
    expect((await agent.get('/audit')).status).toBe(303);
    expect(await queryColumn(ctx, 'SELECT action FROM audit_log ORDER BY id')).toEqual(['auth.sign_in', 'auth.sign_out']);
  });

  it('refuses a sign-out without the CSRF token and stays signed in', async () => {
    const agent = await signIn(ctx.app, 'admin@acme.test');
    const res = await agent.post('/sign-out').type('form').send({});
    expect(res.status).toBe(403);
    expect((await agent.get('/audit')).status).toBe(200);
  });
});
