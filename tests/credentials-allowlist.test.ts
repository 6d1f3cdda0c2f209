import request from 'supertest';
import { MINUTE } from '../src/clock';
import { MAX_RANGES, addressAllowed, parseAllowlist } from '../src/features/credentials/ranges';
import { createTestContext, signIn } from './helpers';
import type { Agent, TestContext } from './helpers';
import { generateApiKey, generateClient, htmx, saveCredential } from './credentials-helpers';
import { seedWorld } from './world';
import type { World } from './world';

/** An OAuth-style error body: {"error", "error_description"}. */
const errorOf = (res: { body: unknown }) => res.body as { error: string; error_description: string };

describe('IP allowlist ranges', () => {
  it('keeps IPv4 and IPv6 ranges and single addresses in canonical form', () => {
    expect(parseAllowlist('203.0.113.0/24\n2001:DB8::/32, 198.51.100.7  ::1')).toEqual({
      ok: true,
      allowlist: '203.0.113.0/24 2001:db8::/32 198.51.100.7/32 ::1/128',
    });
    expect(parseAllowlist('  \n ')).toEqual({ ok: true, allowlist: '' });
  });

  it('names the bad entry and why it is wrong', () => {
    expect(parseAllowlist('10.0.0.0/8\n10.0.0.0/33')).toEqual({ ok: false, message: '10.0.0.0/33 is not a valid range: an IPv4 prefix is at most /32.' });
    expect(parseAllowlist('10.0.0.1/8')).toEqual({
      ok: false,
      message: '10.0.0.1/8 is not a valid range: it has bits set after the prefix; did you mean 10.0.0.0/8?',
    });
    expect(parseAllowlist('example.com')).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^example\.com is not a valid range: the address is not/),
    });
    expect(parseAllowlist('10')).toMatchObject({ ok: false, message: expect.stringMatching(/^10 is not a valid range/) });
    expect(parseAllowlist('10.0.0.0/x')).toMatchObject({
      ok: false,
      message: '10.0.0.0/x is not a valid range: the prefix after “/” must be a number from 0 to 32.',
    });
  });

  it(`holds at most ${MAX_RANGES} ranges`, () => {
    const many = Array.from({ length: MAX_RANGES + 1 }, (_, i) => `10.0.${i}.0/24`).join('\n');
    expect(parseAllowlist(many)).toMatchObject({
      ok: false,
      message: expect.stringContaining(`at most ${MAX_RANGES} ranges (this one has ${MAX_RANGES + 1})`),
    });
  });

  it('matches IPv4-mapped IPv6 addresses and ranges as IPv4', () => {
    expect(addressAllowed('203.0.113.0/24', '::ffff:203.0.113.9')).toBe(true);
    expect(addressAllowed('203.0.113.0/24', '203.0.114.1')).toBe(false);
    const mapped = parseAllowlist('::ffff:203.0.113.0/120');
    expect(mapped).toEqual({ ok: true, allowlist: '203.0.113.0/24' });
    expect(addressAllowed('2001:db8::/32', '2001:db8:1::5')).toBe(true);
    expect(addressAllowed('2001:db8::/32', '203.0.113.9')).toBe(false);
    expect(addressAllowed('', 'anything')).toBe(true);
    expect(addressAllowed('10.0.0.0/8', 'not-an-address')).toBe(false);
  });
});

describe('POST /admin/api/credentials/:id/allowlist', () => {
  const ctx = createTestContext();
  let world: World;
  let agent: Agent;
  afterAll(() => ctx.close());

  beforeAll(async () => {
    world = await seedWorld(ctx);
    agent = await signIn(ctx.app, 'admin@a.test');
  });

  const post = (id: number, allowlist: string, headers: Record<string, string> = {}) =>
    agent.post(`/admin/api/credentials/${id}/allowlist`).set(headers).type('form').send({ _csrf: agent.csrf, allowlist });

  it('without script: saves the ranges, audits, and redirects to the page that shows them', async () => {
    const res = await post(world.ids.activeKey, '203.0.113.0/24\r\n2001:db8::/32');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/admin/api?area=basic#basic-auth');
    const page = await agent.get(res.headers.location);
    expect(page.text).toContain('IP allowlist of company-a-api saved. Only from 2 ranges.');
    expect(page.text).toContain('>203.0.113.0/24\n2001:db8::/32</textarea>');
    const [entry] = await ctx.query<{ details: string; actor: string }>(
      "SELECT details, actor FROM audit_log WHERE action = 'credential.allowlist' ORDER BY id DESC LIMIT 1",
    );
    expect(JSON.parse(entry.details)).toEqual({ kind: 'basic', credentialId: world.ids.activeKey, before: [], after: ['203.0.113.0/24', '2001:db8::/32'] });
    expect(entry.actor).toBe('admin@a.test');
  });

  it('with htmx: answers the refreshed area with the message', async () => {
    const res = await post(world.ids.activeClient, '198.51.100.7', htmx);
    expect(res.status).toBe(200);
    expect(res.headers['hx-retarget']).toBe('#oauth-area');
    expect(res.text).not.toContain('<h1>API</h1>');
    expect(res.text).toContain('IP allowlist of ' + world.secrets.clientId + ' saved. Only from 198.51.100.7/32.');
  });

  it.each([
    ['without script', {}],
    ['with htmx', htmx],
  ])('%s: re-renders the form naming the bad entry, with what was typed', async (_how, headers) => {
    const res = await post(world.ids.activeKey, '10.0.0.0/8\n10.0.0.0/33', headers);
    expect(res.status).toBe(422);
    expect(res.text).toContain('10.0.0.0/33 is not a valid range: an IPv4 prefix is at most /32.');
    expect(res.text).toContain('>10.0.0.0/8\n10.0.0.0/33</textarea>');
    expect(res.text).toContain('aria-invalid="true"');
    // The area and the list's own disclosure are open, so the message is seen without script too.
    expect(res.text).toContain('<details class="allowlist" open>');
    if (!('HX-Request' in headers)) expect(res.text).toContain('<details class="area" id="basic-auth" open>');
  });

  it('leaves another company’s credential alone (404)', async () => {
    const other = await signIn(ctx.app, 'admin@b.test');
    const res = await other.post(`/admin/api/credentials/${world.ids.activeKey}/allowlist`).type('form').send({ _csrf: other.csrf, allowlist: '' });
    expect(res.status).toBe(404);
  });

  it('refuses an unsaved generation (404), which takes its allowlist from the credential it replaces', async () => {
    expect((await post(world.ids.pendingKey, '')).status).toBe(404);
  });
});

/** A company with a saved key and client, each allowed only from `ranges`. */
async function seedAllowlisted(ctx: TestContext, ranges: string) {
  await seedWorld(ctx);
  const agent = await signIn(ctx.app, 'admin@b.test');
  const key = await generateApiKey(agent, 'company-b-api');
  expect((await saveCredential(agent, 'basic-auth', key.id)).status).toBe(303);
  const client = await generateClient(agent);
  expect((await saveCredential(agent, 'oauth', client.id)).status).toBe(303);
  const { access_token: token } = (
    await request(ctx.app).post('/oauth/token').auth(client.clientId, client.secret).type('form').send({ grant_type: 'client_credentials' })
  ).body as { access_token: string };
  for (const id of [key.id, client.id]) {
    expect((await agent.post(`/admin/api/credentials/${id}/allowlist`).type('form').send({ _csrf: agent.csrf, allowlist: ranges })).status).toBe(303);
  }
  return { agent, key, client, token };
}

describe('the platform API refuses a caller from outside the allowlist', () => {
  const ctx = createTestContext();
  let seeded: Awaited<ReturnType<typeof seedAllowlisted>>;
  afterAll(() => ctx.close());
  beforeAll(async () => {
    seeded = await seedAllowlisted(ctx, '203.0.113.0/24');
  });

  const refusals = async () => Number(await ctx.value("SELECT count(*) FROM audit_log WHERE action = 'credential.address_refused'"));

  it('GET /api/v1/me with an API key: 403 that names the address', async () => {
    const res = await request(ctx.app).get('/api/v1/me').auth('company-b-api', seeded.key.key);
    expect(res.status).toBe(403);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(errorOf(res).error).toBe('address_not_allowed');
    expect(errorOf(res).error_description).toMatch(/^This API key may not be used from (::ffff:)?127\.0\.0\.1: the address is not in its IP allowlist\.$/);
  });

  it('GET /auth/verify with an access token: 403 (its client’s allowlist, at each use)', async () => {
    const res = await request(ctx.app).get('/auth/verify').set('Authorization', `Bearer ${seeded.token}`);
    expect(res.status).toBe(403);
    expect(errorOf(res).error_description).toMatch(/^This client may not be used from .*127\.0\.0\.1/);
  });

  it('POST /oauth/token: invalid_client with a description saying the address is not allowed', async () => {
    const res = await request(ctx.app)
      .post('/oauth/token')
      .auth(seeded.client.clientId, seeded.client.secret)
      .type('form')
      .send({ grant_type: 'client_credentials' });
    expect(res.status).toBe(401);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(errorOf(res).error).toBe('invalid_client');
    expect(errorOf(res).error_description).toMatch(/may not be used from .*127\.0\.0\.1: the address is not in its IP allowlist/);
  });

  it('audits one refusal per credential and address per minute, not one per request', async () => {
    ctx.clock.advance(MINUTE);
    const before = await refusals();
    for (let i = 0; i < 5; i++) expect((await request(ctx.app).get('/api/v1/me').auth('company-b-api', seeded.key.key)).status).toBe(403);
    expect(await refusals()).toBe(before + 1);
    const [entry] = await ctx.query<{ details: string; target: string }>(
      "SELECT details, target FROM audit_log WHERE action = 'credential.address_refused' ORDER BY id DESC LIMIT 1",
    );
    expect(entry.target).toBe('company-b-api');
    expect(JSON.parse(entry.details)).toMatchObject({ kind: 'basic', credentialId: seeded.key.id, address: expect.stringMatching(/127\.0\.0\.1$/) });
    ctx.clock.advance(MINUTE);
    expect((await request(ctx.app).get('/api/v1/me').auth('company-b-api', seeded.key.key)).status).toBe(403);
    expect(await refusals()).toBe(before + 2);
  });

  it('lets the caller in once its address is allowed (IPv4-mapped or not)', async () => {
    expect(
      (await seeded.agent.post(`/admin/api/credentials/${seeded.key.id}/allowlist`).type('form').send({ _csrf: seeded.agent.csrf, allowlist: '127.0.0.0/8' }))
        .status,
    ).toBe(303);
    expect((await request(ctx.app).get('/api/v1/me').auth('company-b-api', seeded.key.key)).status).toBe(200);
  });

  it('gives a new generation the allowlist of the key it replaces', async () => {
    const id = seeded.key.id;
    const set = await seeded.agent.post(`/admin/api/credentials/${id}/allowlist`).type('form').send({ _csrf: seeded.agent.csrf, allowlist: '192.0.2.0/24' });
    expect(set.status).toBe(303);
    const next = await generateApiKey(seeded.agent, 'company-b-api');
    expect((await saveCredential(seeded.agent, 'basic-auth', next.id)).status).toBe(303);
    expect(await ctx.value('SELECT allowed_ranges FROM credentials WHERE id = ?', next.id)).toBe('192.0.2.0/24');
  });
});

describe('the allowlist behind a trusted proxy (TRUST_PROXY)', () => {
  const ctx = createTestContext({ TRUST_PROXY: 'loopback' });
  let seeded: Awaited<ReturnType<typeof seedAllowlisted>>;
  afterAll(() => ctx.close());
  beforeAll(async () => {
    seeded = await seedAllowlisted(ctx, '203.0.113.0/24\n2001:db8::/32');
  });

  const me = (forwardedFor: string) => request(ctx.app).get('/api/v1/me').auth('company-b-api', seeded.key.key).set('X-Forwarded-For', forwardedFor);

  it('takes the client address from X-Forwarded-For, as the trusted proxy gives it', async () => {
    expect((await me('203.0.113.9')).status).toBe(200);
    expect((await me('2001:db8::7')).status).toBe(200);
    const refused = await me('198.51.100.1');
    expect(refused.status).toBe(403);
    expect(errorOf(refused).error_description).toContain('from 198.51.100.1:');
  });

  it('believes only the hop the trusted proxy added, not what the client wrote before it', async () => {
    // The client sent "X-Forwarded-For: 203.0.113.9"; the proxy appended the address it saw.
    expect((await me('203.0.113.9, 198.51.100.1')).status).toBe(403);
  });
});

describe('the allowlist without a trusted proxy', () => {
  const ctx = createTestContext();
  afterAll(() => ctx.close());

  it('ignores X-Forwarded-For: a client cannot claim an allowed address', async () => {
    const seeded = await seedAllowlisted(ctx, '203.0.113.0/24');
    const res = await request(ctx.app).get('/api/v1/me').auth('company-b-api', seeded.key.key).set('X-Forwarded-For', '203.0.113.9');
    expect(res.status).toBe(403);
  });
});
