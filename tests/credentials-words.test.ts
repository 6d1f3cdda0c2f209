import { createTestContext, seedCompany, signIn } from './helpers';
import type { Agent, TestContext } from './helpers';
import { generateApiKey, generateClient, htmx, saveCredential } from './credentials-helpers';
import type { GeneratedClient, GeneratedKey } from './credentials-helpers';

/** Each kind of credential in the seed's words (src/features/credentials/page.ts), on every page that shows one. */
describe('the words a credential is shown with', () => {
  let ctx: TestContext;
  let admin: Agent;
  let operator: Agent;
  let newKey: GeneratedKey;
  let client: GeneratedClient;

  beforeAll(async () => {
    ctx = createTestContext();
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
    await seedCompany(ctx, 'Empty', 'admin@empty.test');
    await seedCompany(ctx, 'Operators', 'ops@console.test', { operator: true });
    admin = await signIn(ctx.app, 'admin@acme.test');
    operator = await signIn(ctx.app, 'ops@console.test');
    // Three keys: the first replaced at once (Replaced), the second in a 1-hour overlap (Overlap), the third in use.
    await saveCredential(admin, 'basic-auth', (await generateApiKey(admin, 'acme-api')).id);
    await saveCredential(admin, 'basic-auth', (await generateApiKey(admin, 'acme-api')).id, 'none');
    newKey = await generateApiKey(admin, 'acme-api');
    await saveCredential(admin, 'basic-auth', newKey.id, '1h');
    // A first client, replaced by a second (Replaced), which is revoked (Revoked), then the one in use.
    await saveCredential(admin, 'oauth', (await generateClient(admin)).id);
    const revoked = await generateClient(admin);
    await saveCredential(admin, 'oauth', revoked.id, 'none');
    const revoke = await admin.post(`/admin/api/credentials/${revoked.id}/revoke`).type('form').send({ _csrf: admin.csrf, reason: 'Leaked in a log' });
    expect(revoke.status).toBe(303);
    client = await generateClient(admin);
    await saveCredential(admin, 'oauth', client.id, 'none');
  });
  afterAll(() => ctx.close());

  describe('GET /admin/api', () => {
    it('calls Basic Auth credentials a Username and an API key', async () => {
      const res = await admin.get('/admin/api?area=basic');
      expect(res.status).toBe(200);
      expect(res.text).toContain('<caption class="visually-hidden">API keys in use</caption>');
      expect(res.text).toMatch(/<th scope="col">Username<\/th><th scope="col">API key<\/th>\s*<th scope="col">Status<\/th>/);
      expect(res.text).toContain('<caption class="visually-hidden">Recently ended API keys</caption>');
    });

    it('calls OAuth 2.0 credentials a Client ID and a Client secret, with their scopes', async () => {
      const res = await admin.get('/admin/api?area=oauth');
      expect(res.text).toContain('<caption class="visually-hidden">Client credentials in use</caption>');
      expect(res.text).toContain('<th scope="col">Client ID</th><th scope="col">Client secret</th><th scope="col">Scopes</th>');
      expect(res.text).toContain('<td data-label="Scopes"><code>claims:read claims:write documents:read documents:write</code></td>');
      expect(res.text).toContain('aria-label="Recently ended client credentials"');
    });

    it('names each status, and how long an overlap still works', async () => {
      const res = await admin.get('/admin/api');
      expect(res.text).toContain('<span class="status status-active">Active</span>');
      expect(res.text).toMatch(/<span class="status status-retiring">Overlap<\/span> works until <time datetime="[^"]+">[^<]+ UTC<\/time>/);
      expect(res.text).toContain('<span class="status status-revoked">Revoked</span>');
      expect(res.text).toContain('<span class="status status-retired">Replaced</span>');
      expect(res.text).toContain('<span class="hint">admin@acme.test: Leaked in a log</span>');
      expect(res.text).toContain('<span class="hint">by admin@acme.test</span>');
    });

    it('says when a company has no credential of a kind in use', async () => {
      const empty = await signIn(ctx.app, 'admin@empty.test');
      const res = await empty.get('/admin/api');
      expect(res.text).toContain('<p>Your company has no API key in use.</p>');
      expect(res.text).toContain('<p>Your company has no client credentials in use.</p>');
    });
  });

  describe('POST /admin/api/basic-auth/generate and /admin/api/oauth/generate', () => {
    it('asks how long the key or client in use keeps working after Save', async () => {
      const key = await generateApiKey(admin, 'acme-api', htmx);
      expect(key.res.text).toContain(
        `<legend>When I save, the key in use now (<code>acme-api</code>, <code>${newKey.key.slice(0, 10)}…</code>) keeps working for</legend>`,
      );
      const next = await generateClient(admin, undefined, htmx);
      expect(next.res.text).toContain(
        `<legend>When I save, the client in use now (<code>${client.clientId}</code>, <code>${client.secret.slice(0, 10)}…</code>) keeps working for</legend>`,
      );
    });
  });

  describe('GET /admin/api/credentials/:id/revoke', () => {
    it('asks to revoke an API key by its Username', async () => {
      const res = await admin.get(`/admin/api/credentials/${newKey.id}/revoke`).set(htmx);
      expect(res.status).toBe(200);
      expect(res.text).toContain('<h3>Revoke API key?</h3>');
      expect(res.text).toContain('<dt>Username</dt><dd><code>acme-api</code></dd>');
      expect(res.text).toContain(`<dt>API key</dt><dd><code>${newKey.key.slice(0, 10)}…</code></dd>`);
    });

    it('asks to revoke client credentials by their Client ID', async () => {
      const res = await admin.get(`/admin/api/credentials/${client.id}/revoke`);
      expect(res.status).toBe(200);
      expect(res.text).toContain('<h3>Revoke client credentials?</h3>');
      expect(res.text).toContain(`<dt>Client ID</dt><dd><code>${client.clientId}</code></dd>`);
      expect(res.text).toContain(`<dt>Client secret</dt><dd><code>${client.secret.slice(0, 10)}…</code></dd>`);
    });
  });

  describe('GET /operator/credentials', () => {
    it('names each credential’s kind and status', async () => {
      const res = await operator.get('/operator/credentials');
      expect(res.status).toBe(200);
      expect(res.text).toMatch(/<td data-label="Kind">Basic Auth<\/td>\s*<td data-label="Username or Client ID"><code>acme-api<\/code><\/td>/);
      expect(res.text).toMatch(
        new RegExp(`<td data-label="Kind">OAuth 2.0</td>\\s*<td data-label="Username or Client ID"><code>${client.clientId}</code></td>`),
      );
      expect(res.text).toMatch(/<span class="status status-retiring">Overlap<\/span> until <time datetime="[^"]+">[^<]+ UTC<\/time>/);
      expect(res.text).toContain('<span class="status status-active">Active</span>');
    });
  });
});
