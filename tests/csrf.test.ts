import request from 'supertest';
import { createTestContext, PASSWORD, seedCompany, signIn } from './helpers';
import type { Agent, TestContext } from './helpers';

const TOKEN_MESSAGE = 'Your form expired or was not sent from this page. Reload the page and try again.';
const SITE_MESSAGE = 'This form was sent from another site, so we did not act on it.';

describe('CSRF protection on unsafe requests', () => {
  let ctx: TestContext;
  let operator: Agent;
  beforeEach(async () => {
    ctx = createTestContext();
    await seedCompany(ctx, 'Operators', 'ops@example.test', { operator: true });
    operator = await signIn(ctx.app, 'ops@example.test');
  });
  afterEach(() => ctx.close());

  const companies = () => ctx.column<string>('SELECT name FROM companies ORDER BY id');
  const create = () => operator.post('/operator/companies').type('form');

  it('refuses a form without a token with 403 and changes nothing', async () => {
    const res = await create().send({ name: 'Globex' });
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain(TOKEN_MESSAGE);
    expect(await companies()).toEqual(['Operators']);
  });

  it('refuses a wrong token and a token of another session', async () => {
    expect((await create().send({ _csrf: 'x'.repeat(64), name: 'Globex' })).status).toBe(403);

    await seedCompany(ctx, 'Acme', 'admin@acme.test');
    const other = await signIn(ctx.app, 'admin@acme.test');
    expect((await create().send({ _csrf: other.csrf, name: 'Globex' })).status).toBe(403);
    expect(await companies()).toEqual(['Operators', 'Acme']);
  });

  it.each([
    ['an Origin of another site', { Origin: 'http://evil.example' }],
    ['a look-alike Origin', { Origin: 'http://127.0.0.1:3000.evil.example' }],
    ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site', { 'Sec-Fetch-Site': 'same-site' }],
    ['Origin: null without Sec-Fetch-Site (a sandboxed or privacy-stripped cross-site form)', { Origin: 'null' }],
    ['Origin: null from another site', { Origin: 'null', 'Sec-Fetch-Site': 'cross-site' }],
  ])('refuses %s even with a valid token, and changes nothing', async (_label, headers) => {
    const res = await create().set(headers).send({ _csrf: operator.csrf, name: 'Globex' });
    expect(res.status).toBe(403);
    expect(res.text).toContain(SITE_MESSAGE);
    expect(await companies()).toEqual(['Operators']);
  });

  it('accepts the same origin (PUBLIC_URL) with the token', async () => {
    const res = await create().set({ Origin: 'http://127.0.0.1:3000', 'Sec-Fetch-Site': 'same-origin' }).send({ _csrf: operator.csrf, name: 'Globex' });
    expect(res.status).toBe(303);
    expect(await companies()).toEqual(['Operators', 'Globex']);
  });

  it('accepts Origin: null when the browser vouches same-origin (our Referrer-Policy: no-referrer makes Chromium send null)', async () => {
    const res = await create().set({ Origin: 'null', 'Sec-Fetch-Site': 'same-origin' }).send({ _csrf: operator.csrf, name: 'Globex' });
    expect(res.status).toBe(303);
    expect(await companies()).toEqual(['Operators', 'Globex']);
  });

  it('accepts the token in the X-CSRF-Token header, as htmx sends it', async () => {
    const res = await operator.post('/operator/companies').set('HX-Request', 'true').set('X-CSRF-Token', operator.csrf).type('form').send({ name: 'Globex' });
    expect(res.status).toBe(204);
    expect(await companies()).toEqual(['Operators', 'Globex']);
  });

  it('answers htmx with a message swapped into the flash region', async () => {
    const res = await operator.post('/operator/companies').set('HX-Request', 'true').type('form').send({ name: 'Globex' });
    expect(res.status).toBe(403);
    expect(res.headers['hx-retarget']).toBe('#flash');
    expect(res.headers['hx-reswap']).toBe('innerHTML');
    expect(res.text).not.toContain('<html');
    expect(res.text).toContain(TOKEN_MESSAGE);
  });

  it('protects sign-in itself (no login CSRF)', async () => {
    const res = await request(ctx.app).post('/sign-in').type('form').send({ email: 'ops@example.test', password: PASSWORD });
    expect(res.status).toBe(403);
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  it('never needs a token for safe methods', async () => {
    expect((await operator.get('/operator/companies')).status).toBe(200);
    expect((await operator.head('/operator/companies')).status).toBe(200);
  });
});

describe('CSRF protection on the anonymous forms (sign-in, setup, invitation)', () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = createTestContext();
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
  });
  afterEach(() => ctx.close());

  /** The sign-in page as a browser gets it: its pre-session cookie (`name=value`) and the form's token. */
  async function signInPage(app = ctx.app): Promise<{ cookie: string; token: string }> {
    const page = await request(app).get('/sign-in');
    const cookies = ([] as string[]).concat(page.headers['set-cookie'] ?? []);
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatch(/^console\.csrf=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);
    return { cookie: cookies[0].split(';')[0], token: /name="_csrf" value="([^"]+)"/.exec(page.text)![1] };
  }
  const signInWith = (cookie: string | undefined, token: string | undefined) => {
    const req = request(ctx.app).post('/sign-in').type('form');
    if (cookie) req.set('Cookie', cookie);
    return req.send({ ...(token === undefined ? {} : { _csrf: token }), email: 'admin@acme.test', password: PASSWORD });
  };
  const sessions = () => ctx.value<number>('SELECT COUNT(*) FROM sessions');

  it('signs in with the token of its own sign-in page; the page itself stored no session', async () => {
    const { cookie, token } = await signInPage();
    expect(await sessions()).toBe(0);
    const res = await signInWith(cookie, token);
    expect(res.status).toBe(303);
    expect(String(res.headers['set-cookie'])).toMatch(/^console\.sid=/);
    expect(await sessions()).toBe(1);
  });

  it.each([
    ['without a token', (page: { cookie: string; token: string }) => [page.cookie, undefined]],
    ['with the token but without its cookie', (page: { cookie: string; token: string }) => [undefined, page.token]],
    ['with the token of another visitor’s page', async (page: { cookie: string; token: string }) => [page.cookie, (await signInPage()).token]],
    [
      'with the cookie’s own value as the token (a plain double submit is not enough)',
      (page: { cookie: string; token: string }) => [page.cookie, page.cookie.split('=')[1]],
    ],
    ['with a made-up token of the right shape', (page: { cookie: string; token: string }) => [page.cookie, 'A'.repeat(43)]],
  ] as const)('refuses a sign-in %s with 403, and signs nobody in', async (_label, choose) => {
    const [cookie, token] = await choose(await signInPage());
    const res = await signInWith(cookie, token);
    expect(res.status).toBe(403);
    expect(res.text).toContain(TOKEN_MESSAGE);
    expect(String(res.headers['set-cookie'] ?? '')).not.toMatch(/console\.sid=/);
    expect(await sessions()).toBe(0);
    expect(await ctx.value("SELECT COUNT(*) FROM audit_log WHERE action LIKE 'auth.%'")).toBe(0);
  });

  it('refuses a cookie and token pair made by a deployment with another SESSION_SECRET', async () => {
    const other = createTestContext({ SESSION_SECRET: 'another-deployment-secret-that-is-long-enough-0123' });
    try {
      const foreign = await signInPage(other.app);
      expect((await signInWith(foreign.cookie, foreign.token)).status).toBe(403);
      expect(await sessions()).toBe(0);
    } finally {
      await other.close();
    }
  });

  it('does not take the anonymous token once signed in: signed-in forms need the session’s own', async () => {
    const { cookie, token } = await signInPage();
    const res = await signInWith(cookie, token);
    const session = String(res.headers['set-cookie']).split(';')[0];
    const out = await request(ctx.app).post('/sign-out').set('Cookie', `${session}; ${cookie}`).type('form').send({ _csrf: token });
    expect(out.status).toBe(403);
    expect((await request(ctx.app).get('/audit').set('Cookie', session)).status).toBe(200);
  });
});
