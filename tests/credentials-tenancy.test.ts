import { createTestContext, seedCompany, signIn } from './helpers';
import type { Agent } from './helpers';
import { apiKeyWorks, clientWorks, generateApiKey, generateClient, htmx, saveCredential } from './credentials-helpers';

describe('credentials across companies, and the operator’s view', () => {
  const ctx = createTestContext();
  let acme: Agent;
  let globex: Agent;
  let operator: Agent;
  let acmeKey: { id: number; key: string };
  let acmePendingKey: { id: number };
  let acmeClient: { id: number; clientId: string; secret: string };
  let acmePendingClient: { id: number };
  let globexKey: { id: number; key: string };
  afterAll(() => ctx.close());

  beforeAll(async () => {
    seedCompany(ctx.db, 'Acme', 'admin@acme.test');
    seedCompany(ctx.db, 'Globex', 'admin@globex.test');
    seedCompany(ctx.db, 'Operators', 'ops@deploy.test', { operator: true });
    acme = await signIn(ctx.app, 'admin@acme.test');
    globex = await signIn(ctx.app, 'admin@globex.test');
    operator = await signIn(ctx.app, 'ops@deploy.test');

    acmeKey = await generateApiKey(acme, 'acme-api');
    await saveCredential(acme, 'basic-auth', acmeKey.id);
    acmePendingKey = await generateApiKey(acme, 'acme-api');
    acmeClient = await generateClient(acme);
    await saveCredential(acme, 'oauth', acmeClient.id);
    acmePendingClient = await generateClient(acme);
    globexKey = await generateApiKey(globex, 'globex-api');
    await saveCredential(globex, 'basic-auth', globexKey.id);
  });

  describe('an administrator of another company gets 404 for every credentials route', () => {
    const routes = (h: Record<string, string>): [string, () => Promise<{ status: number; text: string }>][] => [
      ['save of a pending key', () => saveCredential(globex, 'basic-auth', acmePendingKey.id, undefined, h)],
      ['save of a pending client', () => saveCredential(globex, 'oauth', acmePendingClient.id, undefined, h)],
      ['save of a pending key by its own company, as a client', () => saveCredential(acme, 'oauth', acmePendingKey.id, undefined, h)],
      ['revoke confirmation of a key', () => globex.get(`/admin/api/credentials/${acmeKey.id}/revoke`).set(h)],
      ['revoke confirmation of a client', () => globex.get(`/admin/api/credentials/${acmeClient.id}/revoke`).set(h)],
      ['revoke confirmation of a pending key', () => acme.get(`/admin/api/credentials/${acmePendingKey.id}/revoke`).set(h)],
      ['revoke of a key', () => globex.post(`/admin/api/credentials/${acmeKey.id}/revoke`).set(h).type('form').send({ _csrf: globex.csrf, reason: 'Not mine' })],
      ['revoke of a client', () => globex.post(`/admin/api/credentials/${acmeClient.id}/revoke`).set(h).type('form').send({ _csrf: globex.csrf, reason: 'Not mine' })],
    ];

    it.each([
      ['without script', {}],
      ['with htmx', htmx],
    ])('%s', async (_name, headers) => {
      for (const [what, call] of routes(headers)) {
        const res = await call();
        expect([what, res.status]).toEqual([what, 404]);
        expect(res.text).not.toContain('acme-api');
        expect(res.text).not.toContain(acmeClient.clientId);
      }
    });

    it('and nothing of the other company changed', async () => {
      expect(await apiKeyWorks(ctx, 'acme-api', acmeKey.key)).toBe(true);
      expect(await clientWorks(ctx, acmeClient.clientId, acmeClient.secret)).toBe(true);
      const statuses = ctx.db.prepare('SELECT status FROM credentials WHERE id IN (?, ?) ORDER BY id').pluck().all(acmePendingKey.id, acmePendingClient.id);
      expect(statuses).toEqual(['pending', 'pending']);
    });

    it('does not show the other company’s credentials on its own API page', async () => {
      const page = await globex.get('/admin/api');
      expect(page.text).toContain('globex-api');
      expect(page.text).not.toContain('acme-api');
      expect(page.text).not.toContain(acmeClient.clientId);
    });
  });

  describe('GET /operator/credentials', () => {
    it('is not found for administrators', async () => {
      expect((await acme.get('/operator/credentials')).status).toBe(404);
      expect((await acme.get(`/operator/credentials/${globexKey.id}/revoke`)).status).toBe(404);
      const post = await acme.post(`/operator/credentials/${globexKey.id}/revoke`).type('form').send({ _csrf: acme.csrf, reason: 'Not allowed' });
      expect(post.status).toBe(404);
    });

    it('lists every company’s working credentials without a secret', async () => {
      const res = await operator.get('/operator/credentials');
      expect(res.status).toBe(200);
      expect(res.text).toContain('<h1>Credentials</h1>');
      expect(res.text).toContain('<a href="/operator/credentials" aria-current="page">Credentials</a>');
      expect(res.text).toContain('<td data-label="Username or Client ID"><code>acme-api</code></td>');
      expect(res.text).toContain('<td data-label="Username or Client ID"><code>globex-api</code></td>');
      expect(res.text).toContain(`<td data-label="Username or Client ID"><code>${acmeClient.clientId}</code></td>`);
      expect(res.text).toContain(`<td data-label="Secret"><code>${acmeKey.key.slice(0, 10)}…</code></td>`);
      expect(res.text).toContain('<td data-label="Company">Acme</td>');
      expect(res.text).toContain('<td data-label="Company">Globex</td>');
      for (const secret of [acmeKey.key, acmeClient.secret, globexKey.key]) expect(res.text).not.toContain(secret);
      // Pending (unsaved) generations are not credentials yet.
      expect(res.text).not.toContain(`/operator/credentials/${acmePendingKey.id}/revoke`);
    });

    it('shows the last use', async () => {
      expect(await apiKeyWorks(ctx, 'globex-api', globexKey.key)).toBe(true);
      const res = await operator.get('/operator/credentials');
      expect(res.text).toContain(`<time datetime="${new Date(ctx.clock.now()).toISOString()}">`);
    });
  });

  describe('operator revoke', () => {
    it('asks for a reason on a confirmation page, then revokes at once', async () => {
      const confirm = await operator.get(`/operator/credentials/${globexKey.id}/revoke`);
      expect(confirm.status).toBe(200);
      expect(confirm.text).toContain('<h1>Revoke credential</h1>');
      expect(confirm.text).toContain(`action="/operator/credentials/${globexKey.id}/revoke"`);
      expect(confirm.text).toContain('<a href="/operator/credentials">Cancel</a>');

      const fragment = await operator.get(`/operator/credentials/${globexKey.id}/revoke`).set(htmx);
      expect(fragment.status).toBe(200);
      expect(fragment.text).not.toContain('<html');

      const noReason = await operator.post(`/operator/credentials/${globexKey.id}/revoke`).type('form').send({ _csrf: operator.csrf, reason: '' });
      expect(noReason.status).toBe(422);
      expect(noReason.text).toContain('Say why you revoke it (at least 3 characters).');
      expect(await apiKeyWorks(ctx, 'globex-api', globexKey.key)).toBe(true);

      const res = await operator.post(`/operator/credentials/${globexKey.id}/revoke`).type('form').send({ _csrf: operator.csrf, reason: 'Abuse report #42' });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/operator/credentials');
      expect(await apiKeyWorks(ctx, 'globex-api', globexKey.key)).toBe(false);
      const list = await operator.get('/operator/credentials');
      expect(list.text).toContain('API key for globex-api revoked. It stopped working at once.');
      expect(list.text).not.toContain('<td data-label="Username or Client ID"><code>globex-api</code></td>');

      const entry = ctx.db.prepare("SELECT actor, company_id AS companyId, details FROM audit_log WHERE action = 'credential.revoke' ORDER BY id DESC").get() as {
        actor: string;
        companyId: number;
        details: string;
      };
      expect(entry.actor).toBe('ops@deploy.test');
      expect(JSON.parse(entry.details)).toMatchObject({ reason: 'Abuse report #42', kind: 'basic' });

      // The company's own page shows who revoked it and why.
      const page = await globex.get('/admin/api');
      expect(page.text).toContain('ops@deploy.test: Abuse report #42');
    });

    it('with htmx: success is a full-page redirect to the list', async () => {
      const res = await operator.post(`/operator/credentials/${acmeClient.id}/revoke`).set(htmx).type('form').send({ _csrf: operator.csrf, reason: 'Rotating everything' });
      expect(res.status).toBe(204);
      expect(res.headers['hx-redirect']).toBe('/operator/credentials');
      expect(await clientWorks(ctx, acmeClient.clientId, acmeClient.secret)).toBe(false);
    });

    it('says so when the credential no longer works', async () => {
      const res = await operator.post(`/operator/credentials/${acmeClient.id}/revoke`).type('form').send({ _csrf: operator.csrf, reason: 'Again' });
      expect(res.status).toBe(409);
      expect(res.text).toContain('This credential is already revoked.');
    });

    it('answers 404 for a pending or unknown credential', async () => {
      expect((await operator.get(`/operator/credentials/${acmePendingKey.id}/revoke`)).status).toBe(404);
      expect((await operator.get('/operator/credentials/987654/revoke')).status).toBe(404);
    });
  });
});
