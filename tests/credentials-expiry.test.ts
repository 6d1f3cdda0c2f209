import request from 'supertest';
import { DAY, HOUR, formatUtcMinute } from '../src/clock';
import { AuditLog } from '../src/features/audit/service';
import { sweepCredentials } from '../src/features/credentials/service';
import { PASSWORD, createTestContext, seedCompany, signIn } from './helpers';
import type { Agent, TestContext } from './helpers';
import { apiKeyWorks, clientWorks, generateApiKey, generateClient, htmx, saveCredential } from './credentials-helpers';

/** A Save with a lifetime, as the form sends it. */
function saveWithLifetime(agent: Agent, kind: 'basic-auth' | 'oauth', id: number, lifetime: string, headers: Record<string, string> = {}) {
  return agent.post(`/admin/api/${kind}/${id}/save`).set(headers).type('form').send({ _csrf: agent.csrf, lifetime });
}

const statusOf = async (ctx: TestContext, id: number) => ctx.value<string>('SELECT status FROM credentials WHERE id = ?', id);
const deps = (ctx: TestContext) => ({
  db: ctx.database,
  clock: ctx.clock,
  audit: new AuditLog(ctx.database, ctx.clock),
  mailer: { send: () => Promise.resolve(0) },
});

/** The lifetime radio buttons a page offers, by value, and which is checked. */
function lifetimeChoices(html: string): { values: string[]; checked: string | undefined } {
  const inputs = [...html.matchAll(/<input type="radio" name="lifetime" value="([^"]+)"( checked)?>/g)];
  return { values: inputs.map((m) => m[1]), checked: inputs.find((m) => m[2])?.[1] };
}

describe('Credential lifetime at Save', () => {
  let ctx: TestContext;
  let admin: Agent;
  let operator: Agent;
  let companyId: number;

  beforeEach(async () => {
    ctx = createTestContext();
    ({ companyId } = await seedCompany(ctx, 'Acme', 'admin@acme.test'));
    await seedCompany(ctx, 'Operators', 'ops@console.test', { operator: true });
    admin = await signIn(ctx.app, 'admin@acme.test');
    operator = await signIn(ctx.app, 'ops@console.test');
  });
  afterEach(() => ctx.close());

  const setMaximum = (value: string) =>
    operator.post(`/operator/companies/${companyId}/credential-lifetime`).type('form').send({ _csrf: operator.csrf, maxLifetime: value });

  it('offers 30, 90, 180, 365 days and never (the default) beside the overlap choice, without a company maximum', async () => {
    await saveCredential(admin, 'basic-auth', (await generateApiKey(admin, 'acme-api')).id);
    const { res } = await generateApiKey(admin, 'acme-api');
    expect(lifetimeChoices(res.text)).toEqual({ values: ['30', '90', '180', '365', 'none'], checked: 'none' });
    // In the same Save form as the overlap choice, after it.
    const form = /<form method="post" action="\/admin\/api\/basic-auth\/\d+\/save"[\s\S]*?<\/form>/.exec(res.text)![0];
    expect(form.indexOf('name="overlap"')).toBeGreaterThan(0);
    expect(form.indexOf('name="lifetime"')).toBeGreaterThan(form.indexOf('name="overlap"'));
    expect(form).toContain('<legend>The new key works for</legend>');
  });

  it('saves the chosen lifetime: the page shows the expiry, and the key works until then', async () => {
    const { id, key } = await generateApiKey(admin, 'acme-api');
    const savedAt = ctx.clock.now();
    expect((await saveWithLifetime(admin, 'basic-auth', id, '30')).status).toBe(303);
    expect(await ctx.value('SELECT expires_at FROM credentials WHERE id = ?', id)).toBe(savedAt + 30 * DAY);
    const page = await admin.get('/admin/api');
    expect(page.text).toContain(`<td data-label="Expires"><time datetime="${new Date(savedAt + 30 * DAY).toISOString()}">`);
    ctx.clock.set(savedAt + 30 * DAY - 1);
    expect(await apiKeyWorks(ctx, 'acme-api', key)).toBe(true);
    const audit = await ctx.value<string>("SELECT details FROM audit_log WHERE action = 'credential.save'");
    expect(JSON.parse(audit!)).toMatchObject({ lifetimeDays: 30, expiresAt: savedAt + 30 * DAY });
  });

  it('a key saved to never expire shows "Never" and keeps working years later', async () => {
    const { id, key } = await generateApiKey(admin, 'acme-api');
    await saveWithLifetime(admin, 'basic-auth', id, 'none');
    expect(await ctx.value('SELECT expires_at FROM credentials WHERE id = ?', id)).toBeNull();
    expect((await admin.get('/admin/api')).text).toContain('<td data-label="Expires">Never</td>');
    ctx.clock.advance(3 * 365 * DAY);
    expect(await apiKeyWorks(ctx, 'acme-api', key)).toBe(true);
  });

  it("the operator's maximum limits the choices; the default is then the maximum", async () => {
    const res = await setMaximum('90');
    expect(res.status).toBe(303);
    const company = await operator.get(`/operator/companies/${companyId}`);
    expect(company.text).toContain('<input type="radio" name="maxLifetime" value="90" checked>');
    expect(await ctx.value('SELECT max_credential_lifetime_days FROM companies WHERE id = ?', companyId)).toBe(90);
    const audit = await ctx.value<string>("SELECT details FROM audit_log WHERE action = 'company.credential_lifetime'");
    expect(JSON.parse(audit!)).toEqual({ maxDays: 90 });

    const { res: generated, id } = await generateApiKey(admin, 'acme-api');
    expect(lifetimeChoices(generated.text)).toEqual({ values: ['30', '90'], checked: '90' });
    // A Save that names no lifetime (an old form) gets the maximum, not "never".
    const savedAt = ctx.clock.now();
    await saveCredential(admin, 'basic-auth', id);
    expect(await ctx.value('SELECT expires_at FROM credentials WHERE id = ?', id)).toBe(savedAt + 90 * DAY);
  });

  it.each([
    ['365', 'Your company allows a lifetime of at most 90 days; 365 days is longer. Choose 90 days or fewer. Nothing was saved.'],
    ['none', 'Your company requires credentials to expire: choose a lifetime of at most 90 days. Nothing was saved.'],
  ])('a tampered Save asking for %s under a 90-day maximum gets a specific error and saves nothing', async (lifetime, message) => {
    await setMaximum('90');
    const plain = await generateApiKey(admin, 'acme-api');
    const res = await saveWithLifetime(admin, 'basic-auth', plain.id, lifetime);
    expect(res.status).toBe(422);
    expect(res.text).toContain(`<p class="flash flash-error" role="alert">${message}</p>`);
    expect(await statusOf(ctx, plain.id)).toBe('pending');
    expect(await apiKeyWorks(ctx, 'acme-api', plain.key)).toBe(false);

    const viaHtmx = await generateClient(admin);
    const fragment = await saveWithLifetime(admin, 'oauth', viaHtmx.id, lifetime, htmx);
    expect(fragment.status).toBe(422);
    expect(fragment.text.trimStart()).toMatch(/^<div class="area-body" id="oauth-area"/);
    expect(fragment.text).toContain(message);
    expect(await statusOf(ctx, viaHtmx.id)).toBe('pending');
  });

  it('a lifetime that is not one of the choices is refused with the choices named', async () => {
    const { id } = await generateApiKey(admin, 'acme-api');
    const res = await saveWithLifetime(admin, 'basic-auth', id, '1000');
    expect(res.status).toBe(400);
    expect(res.text).toContain('Choose a lifetime: 30, 90, 180 or 365 days, or never expires.');
    expect(await statusOf(ctx, id)).toBe('pending');
  });

  it('the maximum form refuses a value that is not a choice, and shows it with the error', async () => {
    const res = await setMaximum('45');
    expect(res.status).toBe(422);
    expect(res.text).toContain('Choose a maximum lifetime: 30, 90, 180 or 365 days, or no maximum.');
    expect(await ctx.value('SELECT max_credential_lifetime_days FROM companies WHERE id = ?', companyId)).toBeNull();
  });

  it('a lowered maximum leaves credentials already saved with their expiry', async () => {
    const { id, key } = await generateApiKey(admin, 'acme-api');
    await saveWithLifetime(admin, 'basic-auth', id, 'none');
    await setMaximum('30');
    ctx.clock.advance(31 * DAY);
    expect(await apiKeyWorks(ctx, 'acme-api', key)).toBe(true);
    expect(await ctx.value('SELECT expires_at FROM credentials WHERE id = ?', id)).toBeNull();
  });
});

describe('An expired credential', () => {
  let ctx: TestContext;
  let admin: Agent;
  let companyId: number;
  let savedAt: number;
  let username: string;
  let key: string;
  let keyId: number;
  let clientId: string;
  let secret: string;
  let clientRowId: number;
  let token: string;

  beforeEach(async () => {
    ctx = createTestContext();
    ({ companyId } = await seedCompany(ctx, 'Acme', 'admin@acme.test'));
    admin = await signIn(ctx.app, 'admin@acme.test');
    username = 'acme-api';
    ({ id: keyId, key } = await generateApiKey(admin, username));
    const client = await generateClient(admin);
    ({ clientId, secret, id: clientRowId } = client);
    savedAt = ctx.clock.now();
    await saveWithLifetime(admin, 'basic-auth', keyId, '30');
    await saveWithLifetime(admin, 'oauth', clientRowId, '30');
    // A token issued half an hour before the client expires: it is within its own exp (1 hour) at the expiry.
    ctx.clock.set(savedAt + 30 * DAY - HOUR / 2);
    const issued = await request(ctx.app).post('/oauth/token').auth(clientId, secret).type('form').send({ grant_type: 'client_credentials' });
    expect(issued.status).toBe(200);
    token = (issued.body as { access_token: string }).access_token;
    ctx.clock.set(savedAt + 30 * DAY - 1);
    admin = await signIn(ctx.app, 'admin@acme.test'); // the first session idled out over the 30 days
  });
  afterEach(() => ctx.close());

  const expiredAt = () => formatUtcMinute(savedAt + 30 * DAY);
  const keyExpired = () =>
    `This API key expired on ${expiredAt()}, at the end of the lifetime chosen when it was saved: generate and save a new one on the API page.`;
  const tokenExpired = () =>
    `The client credentials this access token was issued to expired on ${expiredAt()}: request a new token with new client credentials.`;

  it('works until the moment before its expiry, on every endpoint', async () => {
    expect(await apiKeyWorks(ctx, username, key)).toBe(true);
    expect((await request(ctx.app).get('/auth/verify').auth(username, key)).status).toBe(200);
    expect(await clientWorks(ctx, clientId, secret)).toBe(true);
    expect((await request(ctx.app).get('/api/v1/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
  });

  it('gets 401 with a clear error_description on /api/v1/me (Basic) at its expiry, before any sweep', async () => {
    ctx.clock.set(savedAt + 30 * DAY);
    const res = await request(ctx.app).get('/api/v1/me').auth(username, key);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'unauthorized', error_description: keyExpired() });
    expect(res.headers['www-authenticate']).toBe(`Basic realm="API", error_description="${keyExpired()}", Bearer realm="API"`);
    expect(await statusOf(ctx, keyId)).toBe('active'); // no sweep ran: the read itself compared the expiry with now
  });

  it('gets 401 with the same description on /auth/verify (Basic)', async () => {
    ctx.clock.set(savedAt + 30 * DAY);
    const res = await request(ctx.app).get('/auth/verify').auth(username, key);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'unauthorized', error_description: keyExpired() });
  });

  it('gets 401 invalid_client with a clear description at /oauth/token (client secret)', async () => {
    ctx.clock.set(savedAt + 30 * DAY);
    const res = await request(ctx.app).post('/oauth/token').auth(clientId, secret).type('form').send({ grant_type: 'client_credentials' });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      error: 'invalid_client',
      error_description: `This client secret expired on ${expiredAt()}, at the end of the lifetime chosen when it was saved: generate and save a new one on the API page.`,
    });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('its access tokens get 401 invalid_token saying the client expired, on /api/v1/me and /auth/verify', async () => {
    ctx.clock.set(savedAt + 30 * DAY);
    for (const path of ['/api/v1/me', '/auth/verify']) {
      const res = await request(ctx.app).get(path).set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid_token', error_description: tokenExpired() });
      expect(res.headers['www-authenticate']).toBe(`Bearer realm="API", error="invalid_token", error_description="${tokenExpired()}"`);
    }
    // Introspection says inactive, as for any token that stopped working.
    const other = await generateClient(admin);
    await saveWithLifetime(admin, 'oauth', other.id, '30');
    const introspected = await request(ctx.app).post('/oauth/introspect').auth(other.clientId, other.secret).type('form').send({ token });
    expect(introspected.body).toEqual({ active: false });
  });

  it('the sweep marks it expired and audits the expiry; the answers stay the same', async () => {
    ctx.clock.set(savedAt + 30 * DAY + 1);
    expect(await sweepCredentials(deps(ctx))).toEqual({ expired: 2, retired: 0 });
    expect(await statusOf(ctx, keyId)).toBe('expired');
    expect(await statusOf(ctx, clientRowId)).toBe('expired');
    const entries = await ctx.query<{ actor: string; target: string; details: string }>(
      "SELECT actor, target, details FROM audit_log WHERE action = 'credential.expire' AND company_id = ? ORDER BY id",
      companyId,
    );
    expect(entries.map((e) => [e.target, JSON.parse(e.details) as unknown])).toEqual([
      [username, { kind: 'basic', credentialId: keyId, lifetimeEnded: true, expiresAt: savedAt + 30 * DAY }],
      [clientId, { kind: 'oauth', credentialId: clientRowId, lifetimeEnded: true, expiresAt: savedAt + 30 * DAY }],
    ]);
    const me = await request(ctx.app).get('/api/v1/me').auth(username, key);
    expect(me.body).toEqual({ error: 'unauthorized', error_description: keyExpired() });
    const bearer = await request(ctx.app).get('/api/v1/me').set('Authorization', `Bearer ${token}`);
    expect(bearer.body).toEqual({ error: 'invalid_token', error_description: tokenExpired() });
    // The page lists it among the ended ones, as expired.
    const page = await admin.get('/admin/api');
    expect(page.text).toContain('<span class="status status-expired">Expired</span>');
    expect(page.text).toContain('Your company has no API key in use.');
  });

  it('a Save after the expiry (before any sweep) expires the old key and activates the new one', async () => {
    const next = await generateApiKey(admin, username);
    ctx.clock.set(savedAt + 30 * DAY + 10 * 60_000);
    // 30 days on, sudo mode asks for the password again (tests/reauth.test.ts): it comes with the Save.
    const saved = await admin.post(`/admin/api/basic-auth/${next.id}/save`).type('form').send({ _csrf: admin.csrf, lifetime: '90', reauth_password: PASSWORD });
    expect(saved.status).toBe(303);
    expect(await statusOf(ctx, keyId)).toBe('expired');
    expect(await apiKeyWorks(ctx, username, next.key)).toBe(true);
  });
});

describe('The expiry banner on the API page', () => {
  let ctx: TestContext;
  let admin: Agent;

  beforeEach(async () => {
    ctx = createTestContext();
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
    admin = await signIn(ctx.app, 'admin@acme.test');
  });
  afterEach(() => ctx.close());

  it('appears from 14 days before the expiry, with the area open, and names the key and the day', async () => {
    const { id, key } = await generateApiKey(admin, 'acme-api');
    const savedAt = ctx.clock.now();
    await saveWithLifetime(admin, 'basic-auth', id, '30');
    ctx.clock.set(savedAt + 16 * DAY - 1); // a little more than 14 days left
    const signedIn = () => signIn(ctx.app, 'admin@acme.test'); // each jump of the clock idles the session out
    admin = await signedIn();
    const before = await admin.get('/admin/api');
    expect(before.text).not.toContain('expiry-warning');
    expect(before.text).toContain('<details class="area" id="basic-auth">');

    ctx.clock.set(savedAt + 16 * DAY); // exactly 14 days left
    admin = await signedIn();
    const page = await admin.get('/admin/api');
    expect(page.text).toContain('<details class="area" id="basic-auth" open>');
    expect(page.text).toContain(
      `<div class="warning expiry-warning" role="note">\n  <p><strong>The API key acme-api (${key.slice(0, 10)}…) expires on ${formatUtcMinute(savedAt + 30 * DAY)}, in 14 days. Generate and save a new one before then, with your development team, so that your services keep working.</strong></p>`,
    );
    ctx.clock.set(savedAt + 30 * DAY - HOUR);
    admin = await signedIn();
    expect((await admin.get('/admin/api')).text).toContain('in 1 day.');
    // Replaced by a key that never expires: the banner goes.
    const next = await generateApiKey(admin, 'acme-api');
    await saveWithLifetime(admin, 'basic-auth', next.id, 'none');
    expect((await admin.get('/admin/api')).text).not.toContain('expiry-warning');
  });
});

describe('End overlap now', () => {
  let ctx: TestContext;
  let admin: Agent;
  let companyId: number;
  let old: { id: number; key: string };
  let current: { id: number; key: string };

  beforeEach(async () => {
    ctx = createTestContext();
    ({ companyId } = await seedCompany(ctx, 'Acme', 'admin@acme.test'));
    admin = await signIn(ctx.app, 'admin@acme.test');
    old = await generateApiKey(admin, 'acme-api');
    await saveCredential(admin, 'basic-auth', old.id);
    current = await generateApiKey(admin, 'acme-api');
    await saveCredential(admin, 'basic-auth', current.id, '7d');
    expect(await statusOf(ctx, old.id)).toBe('retiring');
  });
  afterEach(() => ctx.close());

  it('the API page offers it for the key in its overlap only', async () => {
    const page = await admin.get('/admin/api');
    expect(page.text).toContain(`<form class="end-overlap" method="get" action="/admin/api/credentials/${old.id}/end-overlap"`);
    expect(page.text).not.toContain(`/admin/api/credentials/${current.id}/end-overlap`);
  });

  it('the API page shows the overlap as one block: what it means, both keys’ use side by side, End overlap now in the old key’s panel', async () => {
    const until = Number(await ctx.value('SELECT retires_at FROM credentials WHERE id = ?', old.id));
    for (const headers of [{}, htmx]) {
      const page = await admin.get('/admin/api').set(headers);
      expect(page.status).toBe(200);
      const start = page.text.indexOf('<div class="overlap-view" id="overlap-basic">');
      expect(start).toBeGreaterThanOrEqual(0);
      const target = page.text.indexOf('<div id="revoke-basic"></div>', start); // the confirmation lands inside the block
      expect(target).toBeGreaterThan(start);
      expect(page.text.slice(target + '<div id="revoke-basic"></div>'.length).trimStart()).toMatch(/^<\/div>/);
      const block = page.text.slice(start, target);
      expect(block).toContain(`The previous key keeps working: acme-api (${old.key.slice(0, 10)}…) until ${formatUtcMinute(until)}.`);
      expect(block).toContain('class="usage-panels usage-overlap"');
      const newPanel = block.indexOf(`data-credential="${current.id}"`);
      const oldPanel = block.indexOf(`data-credential="${old.id}"`);
      expect(newPanel).toBeGreaterThan(0);
      expect(oldPanel).toBeGreaterThan(newPanel);
      expect(block.slice(oldPanel)).toContain(`<form class="end-overlap" method="get" action="/admin/api/credentials/${old.id}/end-overlap"`);
      expect(page.text.match(/action="\/admin\/api\/credentials\/\d+\/end-overlap"/g)).toHaveLength(1);
    }
  });

  it('without script: a confirmation page, then the old key stops at once (audited, mailed), the new one works', async () => {
    const confirm = await admin.get(`/admin/api/credentials/${old.id}/end-overlap`);
    expect(confirm.status).toBe(200);
    expect(confirm.text).toContain('<h1>End overlap now</h1>');
    expect(confirm.text).toContain('stops working at once instead of at the end of its overlap');
    expect(confirm.text).toContain(`<form method="post" action="/admin/api/credentials/${old.id}/end-overlap">`);
    expect(await apiKeyWorks(ctx, 'acme-api', old.key)).toBe(true); // the GET changed nothing

    const res = await admin.post(`/admin/api/credentials/${old.id}/end-overlap`).type('form').send({ _csrf: admin.csrf });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/admin/api?area=basic#basic-auth');
    expect(await apiKeyWorks(ctx, 'acme-api', old.key)).toBe(false);
    expect(await apiKeyWorks(ctx, 'acme-api', current.key)).toBe(true);
    expect(await statusOf(ctx, old.id)).toBe('retired');
    const me = await request(ctx.app).get('/api/v1/me').auth('acme-api', old.key);
    expect((me.body as { error_description: string }).error_description).toBe(
      `This API key was replaced on ${formatUtcMinute(ctx.clock.now())}: use the new key.`,
    );

    const page = await admin.get(res.headers.location);
    expect(page.text).toContain(`API key for acme-api (${old.key.slice(0, 10)}…) stopped working: its overlap ended now.`);
    const audit = await ctx.query<{ actor: string; details: string }>(
      "SELECT actor, details FROM audit_log WHERE action = 'credential.overlap_end' AND company_id = ?",
      companyId,
    );
    expect(audit).toHaveLength(1);
    expect(audit[0].actor).toBe('admin@acme.test');
    expect(JSON.parse(audit[0].details)).toEqual({ kind: 'basic', credentialId: old.id, early: true, plannedEnd: expect.any(Number) });
    const mail = await ctx.query<{ to_address: string; subject: string; text_body: string }>(
      "SELECT to_address, subject, text_body FROM outbox WHERE kind = 'credential_overlap_ended'",
    );
    expect(mail).toEqual([
      {
        to_address: 'admin@acme.test',
        subject: 'Overlap ended early: Basic Auth API key replaced for Acme',
        text_body: expect.stringContaining(`admin@acme.test ended the overlap of the Basic Auth API key acme-api (${old.key.slice(0, 10)}…) of Acme`),
      },
    ]);
    expect(mail[0].text_body).not.toContain(old.key);
  });

  it('with htmx: the confirmation swaps into the area, and the answer is the refreshed area', async () => {
    const confirm = await admin.get(`/admin/api/credentials/${old.id}/end-overlap`).set(htmx);
    expect(confirm.text.trimStart()).toMatch(/^<div id="revoke-basic" class="card revoke-confirm">/);
    expect(confirm.text).toContain(`hx-post="/admin/api/credentials/${old.id}/end-overlap" hx-target="#revoke-basic" hx-swap="outerHTML"`);
    const res = await admin.post(`/admin/api/credentials/${old.id}/end-overlap`).set(htmx).type('form').send({ _csrf: admin.csrf });
    expect(res.status).toBe(200);
    expect(res.headers['hx-retarget']).toBe('#basic-area');
    expect(res.headers['hx-reswap']).toBe('outerHTML');
    expect(res.text.trimStart()).toMatch(/^<div class="area-body" id="basic-area"/);
    expect(res.text).toContain('stopped working: its overlap ended now.');
    expect(res.text).not.toContain('status-retiring');
    expect(await apiKeyWorks(ctx, 'acme-api', old.key)).toBe(false);
  });

  it('is refused with 403 and changes nothing without the CSRF token', async () => {
    const before = await ctx.snapshot();
    const res = await admin.post(`/admin/api/credentials/${old.id}/end-overlap`).type('form').send({});
    expect(res.status).toBe(403);
    expect(await ctx.snapshot()).toEqual(before);
    expect(await apiKeyWorks(ctx, 'acme-api', old.key)).toBe(true);
  });

  it('says there is nothing to end for a key not in an overlap (409), or once the overlap is over', async () => {
    const active = await admin.post(`/admin/api/credentials/${current.id}/end-overlap`).type('form').send({ _csrf: admin.csrf });
    expect(active.status).toBe(409);
    expect(active.text).toContain('This credential is not in an overlap (it is active), so there is no overlap to end.');
    ctx.clock.advance(7 * DAY);
    admin = await signIn(ctx.app, 'admin@acme.test'); // the session idled out meanwhile
    const over = await admin.post(`/admin/api/credentials/${old.id}/end-overlap`).type('form').send({ _csrf: admin.csrf });
    expect(over.status).toBe(409);
    expect(over.text).toContain('This credential is not in an overlap (it is past its overlap), so there is no overlap to end.');
    expect(await ctx.value("SELECT COUNT(*) FROM audit_log WHERE action = 'credential.overlap_end' AND details LIKE '%early%'")).toBe(0);
  });

  it("another company's credential is not found", async () => {
    await seedCompany(ctx, 'Other', 'admin@other.test');
    const other = await signIn(ctx.app, 'admin@other.test');
    expect((await other.get(`/admin/api/credentials/${old.id}/end-overlap`)).status).toBe(404);
    expect((await other.post(`/admin/api/credentials/${old.id}/end-overlap`).type('form').send({ _csrf: other.csrf })).status).toBe(404);
    expect(await statusOf(ctx, old.id)).toBe('retiring');
  });
});
