import { createTestContext, seedCompany, signIn } from './helpers';
import type { Agent, TestContext } from './helpers';

const count = async (ctx: TestContext, fromWhere: string): Promise<number> => (await ctx.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${fromWhere}`))[0].n;
import { generateClient, htmx, saveCredential } from './credentials-helpers';

describe('the scope catalog (/operator/scopes)', () => {
  const ctx = createTestContext();
  let operator: Agent;
  let admin: Agent;
  let acmeId: number;
  afterAll(() => ctx.close());

  beforeAll(async () => {
    await seedCompany(ctx, 'Operators', 'ops@deploy.test', { operator: true });
    ({ companyId: acmeId } = await seedCompany(ctx, 'Acme', 'admin@acme.test'));
    operator = await signIn(ctx.app, 'ops@deploy.test');
    admin = await signIn(ctx.app, 'admin@acme.test');
  });

  const add = (name: string, description: string, headers: Record<string, string> = {}) =>
    operator.post('/operator/scopes').set(headers).type('form').send({ _csrf: operator.csrf, name, description });

  describe('GET /operator/scopes', () => {
    it('lists the catalog seeded on first start, with how much each scope is used', async () => {
      const res = await operator.get('/operator/scopes');
      expect(res.status).toBe(200);
      expect(res.headers.vary).toContain('HX-Request');
      expect(res.text).toContain('<h1>Scopes</h1>');
      expect(res.text).toContain('<a href="/operator/scopes" aria-current="page">Scopes</a>');
      for (const name of ['claims:read', 'claims:write', 'documents:read', 'documents:write']) expect(res.text).toContain(`<td><code>${name}</code></td>`);
      expect(res.text).toContain('value="Read claims and their status"');
      expect(res.text).toMatch(/2 companies\s*<\/td>/);
    });

    it('says how much each scope is used in words: company and client, singular or plural, or Unused', async () => {
      const own = createTestContext();
      try {
        const { companyId: opsId } = await seedCompany(own, 'Operators', 'ops@deploy.test', { operator: true });
        await seedCompany(own, 'Acme', 'admin@acme.test');
        const acmeAdmin = await signIn(own.app, 'admin@acme.test');
        await saveCredential(acmeAdmin, 'oauth', (await generateClient(acmeAdmin, ['claims:read'])).id);
        await generateClient(acmeAdmin, ['claims:read', 'documents:read']); // pending, so it counts too
        await own.query("DELETE FROM company_scopes WHERE scope = 'documents:write' AND company_id = ?", opsId);
        await own.query("DELETE FROM company_scopes WHERE scope = 'claims:write'");

        const res = await (await signIn(own.app, 'ops@deploy.test')).get('/operator/scopes');
        expect(res.status).toBe(200);
        const usage = (name: string) => new RegExp(`<code>${name}</code>[\\s\\S]*?</td>[\\s\\S]*?</td>\\s*<td>\\s*([^<]*?)\\s*</td>`).exec(res.text)?.[1];
        expect(usage('claims:read')).toBe('2 companies, 2 clients');
        expect(usage('documents:read')).toBe('2 companies, 1 client');
        expect(usage('documents:write')).toBe('1 company');
        expect(usage('claims:write')).toBe('Unused');
      } finally {
        await own.close();
      }
    });

    it('is not found for administrators', async () => {
      expect((await admin.get('/operator/scopes')).status).toBe(404);
      const post = await admin.post('/operator/scopes').type('form').send({ _csrf: admin.csrf, name: 'x:y', description: 'Nope' });
      expect(post.status).toBe(404);
      expect(await count(ctx, "scopes WHERE name = 'x:y'")).toBe(0);
    });
  });

  describe('POST /operator/scopes', () => {
    it('without script: adds a scope and redirects with a message', async () => {
      const res = await add('reports:read', 'Read monthly reports');
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/operator/scopes');
      const page = await operator.get('/operator/scopes');
      expect(page.text).toContain('Scope reports:read added.');
      expect(page.text).toContain('<td><code>reports:read</code></td>');
      expect(page.text).toMatch(/Unused\s*<\/td>/);
      const [entry] = await ctx.query("SELECT actor, target FROM audit_log WHERE action = 'scope.create'");
      expect(entry).toEqual({ actor: 'ops@deploy.test', target: 'reports:read' });
    });

    it('with htmx: answers the refreshed catalog', async () => {
      const res = await add('https://api.example.com/invoices.write', 'Write invoices', htmx);
      expect(res.status).toBe(200);
      expect(res.text).not.toContain('<html');
      expect(res.text.trim()).toMatch(/^<div id="scope-catalog">/);
      expect(res.text).toContain('Scope https://api.example.com/invoices.write added.');
    });

    const invalid: [string, string, string, string][] = [
      ['an empty name', '', 'Something', 'Enter a scope name, such as claims:read.'],
      ['a name with a space', 'claims read', 'Something', 'A scope name cannot contain spaces: in OAuth 2.0 a space separates two scopes.'],
      ['a name with a double quote', 'claims"read', 'Something', 'A scope name cannot contain a double quote (&quot;) or a backslash (&#92;).'],
      ['a name with a backslash', 'claims\\read', 'Something', 'A scope name cannot contain a double quote (&quot;) or a backslash (&#92;).'],
      ['a name outside ASCII', 'clāims:read', 'Something', 'A scope name can use only printable ASCII characters'],
      ['a name of 65 characters', 's'.repeat(65), 'Something', 'A scope name can have at most 64 characters (this one has 65).'],
      ['a name already in the catalog', 'claims:read', 'Again', 'The catalog already has a scope named claims:read.'],
      ['an empty description', 'reports:write', '  ', 'Describe what the scope allows.'],
      ['a description of 201 characters', 'reports:write', 'd'.repeat(201), 'Keep the description to 200 characters or fewer.'],
    ];
    it.each(invalid)('rejects %s with a specific message', async (_what, name, description, message) => {
      for (const headers of [{}, htmx]) {
        const res = await add(name, description, headers);
        expect(res.status).toBe(422);
        expect(res.text).toContain(message);
        expect(res.text).toContain('aria-invalid="true"');
      }
      expect(await count(ctx, "scopes WHERE name = 'reports:write'")).toBe(0);
    });

    it('escapes markup in what it echoes back', async () => {
      const res = await add('<b>x</b>', '<img src=x onerror=alert(1)>');
      expect(res.status).toBe(303);
      const page = await operator.get('/operator/scopes');
      expect(page.text).not.toContain('<b>x</b>');
      expect(page.text).not.toContain('<img src=x');
      expect(page.text).toContain('<td><code>&lt;b&gt;x&lt;/b&gt;</code></td>');
    });
  });

  describe('POST /operator/scopes/describe', () => {
    it('without script: changes the description', async () => {
      const res = await operator
        .post('/operator/scopes/describe')
        .type('form')
        .send({ _csrf: operator.csrf, name: 'reports:read', description: 'Read every report' });
      expect(res.status).toBe(303);
      const page = await operator.get('/operator/scopes');
      expect(page.text).toContain('Description of reports:read saved.');
      expect(page.text).toContain('value="Read every report"');
    });

    it('with htmx: an empty description is refused by the row', async () => {
      const res = await operator.post('/operator/scopes/describe').set(htmx).type('form').send({ _csrf: operator.csrf, name: 'reports:read', description: '' });
      expect(res.status).toBe(422);
      expect(res.text.trim()).toMatch(/^<div id="scope-catalog">/);
      expect(res.text).toMatch(
        /aria-invalid="true" aria-describedby="desc-\d+-error">\s*<p class="error" id="desc-\d+-error">Describe what the scope allows.<\/p>/,
      );
      expect(await ctx.query("SELECT description FROM scopes WHERE name = 'reports:read'")).toEqual([{ description: 'Read every report' }]);
    });

    it('answers 404 for a scope that is not in the catalog', async () => {
      const res = await operator.post('/operator/scopes/describe').type('form').send({ _csrf: operator.csrf, name: 'nope:nope', description: 'Anything' });
      expect(res.status).toBe(404);
    });
  });

  describe('POST /operator/scopes/delete', () => {
    it('deletes an unused scope', async () => {
      const res = await operator.post('/operator/scopes/delete').type('form').send({ _csrf: operator.csrf, name: 'reports:read' });
      expect(res.status).toBe(303);
      const page = await operator.get('/operator/scopes');
      expect(page.text).toContain('Scope reports:read removed from the catalog.');
      expect(page.text).not.toContain('<td><code>reports:read</code></td>');
      expect(await count(ctx, "audit_log WHERE action = 'scope.delete' AND target = 'reports:read'")).toBe(1);
    });

    it('with htmx: deletes and answers the catalog', async () => {
      const res = await operator
        .post('/operator/scopes/delete')
        .set(htmx)
        .type('form')
        .send({ _csrf: operator.csrf, name: 'https://api.example.com/invoices.write' });
      expect(res.status).toBe(200);
      expect(res.text).toContain('removed from the catalog.');
    });

    it('keeps a scope a company may still grant', async () => {
      for (const headers of [{}, htmx]) {
        const res = await operator.post('/operator/scopes/delete').set(headers).type('form').send({ _csrf: operator.csrf, name: 'claims:write' });
        expect(res.status).toBe(409);
        expect(res.text).toContain('claims:write is still allowed for 2 companies; remove it from their allowed scopes first.');
      }
      expect(await count(ctx, "scopes WHERE name = 'claims:write'")).toBe(1);
    });

    it('keeps a scope a working client still carries, even when no company may grant it any more', async () => {
      const client = await generateClient(admin, ['claims:read', 'documents:read']);
      await saveCredential(admin, 'oauth', client.id);
      await ctx.query("DELETE FROM company_scopes WHERE scope = 'documents:read'");
      const res = await operator.post('/operator/scopes/delete').type('form').send({ _csrf: operator.csrf, name: 'documents:read' });
      expect(res.status).toBe(409);
      expect(res.text).toContain('documents:read is still on 1 client credential in use');
      // Once the client is revoked, the scope can go.
      await admin.post(`/admin/api/credentials/${client.id}/revoke`).type('form').send({ _csrf: admin.csrf, reason: 'Scope retired' });
      const again = await operator.post('/operator/scopes/delete').type('form').send({ _csrf: operator.csrf, name: 'documents:read' });
      expect(again.status).toBe(303);
    });

    it('answers 404 for a scope that is not in the catalog', async () => {
      const res = await operator.post('/operator/scopes/delete').type('form').send({ _csrf: operator.csrf, name: 'nope:nope' });
      expect(res.status).toBe(404);
    });
  });

  it('a new scope appears on the API page once the operator allows it for the company', async () => {
    await add('billing:read', 'Read invoices');
    expect((await admin.get('/admin/api')).text).not.toContain('value="billing:read"');
    await ctx.query("INSERT INTO company_scopes (company_id, scope) VALUES (?, 'billing:read')", acmeId);
    const page = await admin.get('/admin/api');
    expect(page.text).toContain('<input type="checkbox" name="scopes" value="billing:read" checked> <code>billing:read</code> — Read invoices');
  });
});
