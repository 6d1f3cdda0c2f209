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
    seedCompany(ctx.db, 'Operators', 'ops@example.test', { operator: true });
    operator = await signIn(ctx.app, 'ops@example.test');
  });
  afterEach(() => ctx.close());

  const companies = (): string[] => ctx.db.prepare('SELECT name FROM companies ORDER BY id').pluck().all() as string[];
  const create = () => operator.post('/operator/companies').type('form');

  it('refuses a form without a token with 403 and changes nothing', async () => {
    const res = await create().send({ name: 'Globex' });
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain(TOKEN_MESSAGE);
    expect(companies()).toEqual(['Operators']);
  });

  it('refuses a wrong token and a token of another session', async () => {
    expect((await create().send({ _csrf: 'x'.repeat(64), name: 'Globex' })).status).toBe(403);

    seedCompany(ctx.db, 'Acme', 'admin@acme.test');
    const other = await signIn(ctx.app, 'admin@acme.test');
    expect((await create().send({ _csrf: other.csrf, name: 'Globex' })).status).toBe(403);
    expect(companies()).toEqual(['Operators', 'Acme']);
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
    expect(companies()).toEqual(['Operators']);
  });

  it('accepts the same origin (PUBLIC_URL) with the token', async () => {
    const res = await create()
      .set({ Origin: 'http://127.0.0.1:3000', 'Sec-Fetch-Site': 'same-origin' })
      .send({ _csrf: operator.csrf, name: 'Globex' });
    expect(res.status).toBe(303);
    expect(companies()).toEqual(['Operators', 'Globex']);
  });

  it('accepts Origin: null when the browser vouches same-origin (our Referrer-Policy: no-referrer makes Chromium send null)', async () => {
    const res = await create().set({ Origin: 'null', 'Sec-Fetch-Site': 'same-origin' }).send({ _csrf: operator.csrf, name: 'Globex' });
    expect(res.status).toBe(303);
    expect(companies()).toEqual(['Operators', 'Globex']);
  });

  it('accepts the token in the X-CSRF-Token header, as htmx sends it', async () => {
    const res = await operator.post('/operator/companies').set('HX-Request', 'true').set('X-CSRF-Token', operator.csrf).type('form').send({ name: 'Globex' });
    expect(res.status).toBe(204);
    expect(companies()).toEqual(['Operators', 'Globex']);
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
