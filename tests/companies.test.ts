import request from 'supertest';
import { createTestContext, seedCompany, seedUser, signIn, queryValue, queryColumn } from './helpers';
import type { Agent, TestContext } from './helpers';

const companyCount = (ctx: TestContext): Promise<unknown> => queryValue(ctx, 'SELECT COUNT(*) FROM companies');

describe('operator pages for companies', () => {
  let ctx: TestContext;
  let ops: Awaited<ReturnType<typeof seedCompany>>;
  let operator: Agent;
  beforeEach(async () => {
    ctx = createTestContext();
    ops = await seedCompany(ctx, 'Operators', 'ops@example.test', { operator: true });
    operator = await signIn(ctx.app, ops.email);
  });
  afterEach(() => ctx.close());

  describe('GET /operator/companies', () => {
    it('lists the companies with their user counts and the create form', async () => {
      await seedCompany(ctx, 'Acme', 'admin@acme.test');
      const res = await operator.get('/operator/companies');
      expect(res.status).toBe(200);
      expect(res.text).toContain('<h1>Companies</h1>');
      expect(res.text).toMatch(/<a href="\/operator\/companies\/\d+">Acme<\/a><\/td><td>1<\/td>/);
      expect(res.text).toContain('id="create-company"');
    });

    it('is a 404 for an administrator and a sign-in redirect for a visitor', async () => {
      await seedCompany(ctx, 'Acme', 'admin@acme.test');
      const admin = await signIn(ctx.app, 'admin@acme.test');
      const res = await admin.get('/operator/companies');
      expect(res.status).toBe(404);
      expect(res.text).toContain('We could not find that page.');
      expect((await request(ctx.app).get('/operator/companies')).status).toBe(303);
    });
  });

  describe('POST /operator/companies', () => {
    it('creates a company with every scope, records it and redirects to it', async () => {
      const res = await operator.post('/operator/companies').type('form').send({ _csrf: operator.csrf, name: '  Globex  ' });
      expect(res.status).toBe(303);
      const id = Number(/^\/operator\/companies\/(\d+)$/.exec(res.headers.location)?.[1]);
      expect(id).toBeGreaterThan(0);

      const page = await operator.get(res.headers.location);
      expect(page.status).toBe(200);
      expect(page.text).toContain('<h1>Globex</h1>');
      expect(page.text).toContain('Company “Globex” created.');
      expect(await queryColumn(ctx, 'SELECT scope FROM company_scopes WHERE company_id = ? ORDER BY scope', id)).toEqual([
        'claims:read',
        'claims:write',
        'documents:read',
        'documents:write',
      ]);
      expect(await ctx.query('SELECT action, target FROM audit_log WHERE company_id = ?', id)).toEqual([{ action: 'company.create', target: 'Globex' }]);
    });

    it('with htmx answers a redirect header instead of a page', async () => {
      const res = await operator.post('/operator/companies').set('HX-Request', 'true').type('form').send({ _csrf: operator.csrf, name: 'Globex' });
      expect(res.status).toBe(204);
      expect(res.headers['hx-redirect']).toMatch(/^\/operator\/companies\/\d+$/);
    });

    it('re-renders the full page with the message and the typed name when the name is taken (any case)', async () => {
      await seedCompany(ctx, 'Acme', 'admin@acme.test');
      const res = await operator.post('/operator/companies').type('form').send({ _csrf: operator.csrf, name: 'ACME' });
      expect(res.status).toBe(422);
      expect(res.text).toContain('<h1>Companies</h1>');
      expect(res.text).toContain('A company with this name already exists.');
      expect(res.text).toContain('value="ACME"');
      expect(res.headers.vary).toMatch(/HX-Request/);
      expect(await companyCount(ctx)).toBe(2);
    });

    it('with htmx re-renders only the create form fragment', async () => {
      const res = await operator.post('/operator/companies').set('HX-Request', 'true').type('form').send({ _csrf: operator.csrf, name: '' });
      expect(res.status).toBe(422);
      expect(res.headers.vary).toMatch(/HX-Request/);
      expect(res.text.trim()).toMatch(/^<section class="card" id="create-company">/);
      expect(res.text).not.toContain('<html');
      expect(res.text).toContain('Enter a company name.');
      expect(res.text).toContain('aria-invalid="true"');
    });

    it.each([
      ['markup and quotes', '<script>alert("x")</script> & \'Co\'', 'created'],
      ['10 kB', 'A'.repeat(10_240), 'A company name is at most 100 characters.'],
      ['control characters', 'Acme\u0000Evil', 'A company name cannot contain control characters.'],
    ])('handles a hostile name (%s) without a 500, escaping it everywhere', async (_label, name, outcome) => {
      const res = await operator.post('/operator/companies').type('form').send({ _csrf: operator.csrf, name });
      if (outcome === 'created') {
        expect(res.status).toBe(303);
        for (const path of ['/operator/companies', res.headers.location, '/audit']) {
          const page = await operator.get(path);
          expect(page.status).toBe(200);
          expect(page.text).not.toContain('<script>alert');
          expect(page.text).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Co&#39;');
        }
      } else {
        expect(res.status).toBe(422);
        expect(res.text).toContain(outcome);
        expect(res.text).not.toContain('\u0000');
        expect(res.text.length).toBeLessThan(20_000); // the typed value is echoed back cut short
        expect(await companyCount(ctx)).toBe(1);
      }
    });
  });

  describe('GET /operator/companies/:id', () => {
    it('shows the company, its users and their status', async () => {
      const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
      await ctx.query('INSERT INTO users (company_id, email, password_hash, created_at) VALUES (?, ?, NULL, 0)', acme.companyId, 'invited@acme.test');
      const gone = await seedUser(ctx, acme.companyId, 'gone@acme.test');
      await ctx.query('UPDATE users SET disabled_at = 1 WHERE id = ?', gone.userId);

      const res = await operator.get(`/operator/companies/${acme.companyId}`);
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.text).toContain('<h1>Acme</h1>');
      expect(res.text).toMatch(
        /<td data-label="Email">admin@acme\.test<\/td>\s*<td data-label="Role">Administrator<\/td>\s*<td data-label="Status">Active<\/td>/,
      );
      expect(res.text).toMatch(
        /<td data-label="Email">invited@acme\.test<\/td>\s*<td data-label="Role">Administrator<\/td>\s*<td data-label="Status">Invited<\/td>/,
      );
      expect(res.text).toMatch(
        /<td data-label="Email">gone@acme\.test<\/td>\s*<td data-label="Role">Administrator<\/td>\s*<td data-label="Status">Disabled<\/td>/,
      );
      expect(res.text).toContain(`action="/operator/companies/${acme.companyId}/users/${gone.userId}/enable"`);
      expect(res.text).toContain(`action="/operator/companies/${acme.companyId}/users/${acme.userId}/disable"`);
    });

    it('names the role of an operator Operator, and of an invited operator too', async () => {
      await ctx.query(
        'INSERT INTO users (company_id, email, password_hash, is_operator, created_at) VALUES (?, ?, NULL, 1, 0)',
        ops.companyId,
        'new.ops@example.test',
      );
      const res = await operator.get(`/operator/companies/${ops.companyId}`);
      expect(res.status).toBe(200);
      expect(res.text).toMatch(/<td data-label="Email">ops@example\.test<\/td>\s*<td data-label="Role">Operator<\/td>\s*<td data-label="Status">Active<\/td>/);
      expect(res.text).toMatch(
        /<td data-label="Email">new\.ops@example\.test<\/td>\s*<td data-label="Role">Operator<\/td>\s*<td data-label="Status">Invited<\/td>/,
      );
    });

    it('does not offer operators a button to disable themselves', async () => {
      const res = await operator.get(`/operator/companies/${ops.companyId}`);
      expect(res.text).not.toContain(`/users/${ops.userId}/disable`);
    });

    it.each([
      ['999', 404, 'We could not find that page.'],
      ['abc', 400, 'id: must be a number'],
      ['-1', 400, 'id: must be a number'],
      ['1.5', 400, 'id: must be a number'],
      ['99999999999999999999', 400, 'id: must be a number'],
    ])('answers company id %s with %i and a kind message', async (id, status, message) => {
      const res = await operator.get(`/operator/companies/${id}`);
      expect(res.status).toBe(status);
      expect(res.text).toContain(message);
    });
  });

  describe('POST /operator/companies/:id/scopes', () => {
    it('saves the allowed scopes from the checkboxes and records them', async () => {
      const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
      const res = await operator
        .post(`/operator/companies/${acme.companyId}/scopes`)
        .type('form')
        .send(`_csrf=${encodeURIComponent(operator.csrf)}&scopes=claims%3Aread&scopes=documents%3Aread`);
      expect(res.status).toBe(303);
      const page = await operator.get(`/operator/companies/${acme.companyId}`);
      expect(page.text).toContain('Allowed scopes saved.');
      expect(page.text).toMatch(/value="claims:read" checked>/);
      expect(page.text).toMatch(/value="claims:write">/);
      expect(await queryValue(ctx, 'SELECT details FROM audit_log WHERE action = ?', 'company.scopes')).toBe('{"scopes":["claims:read","documents:read"]}');
    });

    it('clears every scope when none is ticked', async () => {
      const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
      const res = await operator.post(`/operator/companies/${acme.companyId}/scopes`).type('form').send({ _csrf: operator.csrf });
      expect(res.status).toBe(303);
      expect(await queryValue(ctx, 'SELECT COUNT(*) FROM company_scopes WHERE company_id = ?', acme.companyId)).toBe(0);
    });

    it('refuses a scope outside the catalog and changes nothing', async () => {
      const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
      const res = await operator.post(`/operator/companies/${acme.companyId}/scopes`).type('form').send({ _csrf: operator.csrf, scopes: '<b>admin:all</b>' });
      expect(res.status).toBe(422);
      expect(res.text).toContain('Not in the scope catalog: &lt;b&gt;admin:all&lt;/b&gt;.');
      expect(await queryValue(ctx, 'SELECT COUNT(*) FROM company_scopes WHERE company_id = ?', acme.companyId)).toBe(4);
    });
  });

  describe('POST /operator/companies/:id/users/:userId/disable and /enable', () => {
    it('disables then enables an administrator, recording both', async () => {
      const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
      const disable = await operator.post(`/operator/companies/${acme.companyId}/users/${acme.userId}/disable`).type('form').send({ _csrf: operator.csrf });
      expect(disable.status).toBe(303);
      expect(disable.headers.location).toBe(`/operator/companies/${acme.companyId}`);
      const page = await operator.get(disable.headers.location);
      expect(page.text).toContain('admin@acme.test is disabled and signed out everywhere.');
      expect(page.text).toMatch(
        /<td data-label="Email">admin@acme\.test<\/td>\s*<td data-label="Role">Administrator<\/td>\s*<td data-label="Status">Disabled<\/td>/,
      );

      const enable = await operator.post(`/operator/companies/${acme.companyId}/users/${acme.userId}/enable`).type('form').send({ _csrf: operator.csrf });
      expect(enable.status).toBe(303);
      expect((await operator.get(enable.headers.location)).text).toContain('admin@acme.test can sign in again.');
      expect((await signIn(ctx.app, 'admin@acme.test')).csrf).toBeTruthy();

      const entries = await ctx.query("SELECT action, target, details FROM audit_log WHERE action LIKE 'user.%' ORDER BY id");
      expect(entries).toEqual([
        { action: 'user.disable', target: 'admin@acme.test', details: '{"sessionsEnded":0}' },
        { action: 'user.enable', target: 'admin@acme.test', details: null },
      ]);
    });

    it('will not let an operator disable themselves', async () => {
      const res = await operator.post(`/operator/companies/${ops.companyId}/users/${ops.userId}/disable`).type('form').send({ _csrf: operator.csrf });
      expect(res.status).toBe(409);
      expect(res.text).toContain('You cannot disable your own account.');
      expect(await queryValue(ctx, 'SELECT disabled_at FROM users WHERE id = ?', ops.userId)).toBeNull();
    });

    it('is a 404 for a user of another company under this company’s address', async () => {
      const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
      const globex = await seedCompany(ctx, 'Globex', 'admin@globex.test');
      const res = await operator.post(`/operator/companies/${acme.companyId}/users/${globex.userId}/disable`).type('form').send({ _csrf: operator.csrf });
      expect(res.status).toBe(404);
      expect(await queryValue(ctx, 'SELECT disabled_at FROM users WHERE id = ?', globex.userId)).toBeNull();
    });
  });
});

describe('tenancy: an administrator of company A', () => {
  let ctx: TestContext;
  let b: Awaited<ReturnType<typeof seedCompany>>;
  let adminA: Agent;
  beforeEach(async () => {
    ctx = createTestContext();
    await seedCompany(ctx, 'Company A', 'admin@a.test');
    b = await seedCompany(ctx, 'Company B', 'admin@b.test');
    await signIn(ctx.app, 'admin@b.test'); // B's sign-in is in B's audit log
    adminA = await signIn(ctx.app, 'admin@a.test');
  });
  afterEach(() => ctx.close());

  it.each([
    ['GET', '/operator/companies/B'],
    ['POST', '/operator/companies/B/users/B-admin/disable'],
    ['POST', '/operator/companies/B/invitations'],
    ['POST', '/operator/companies/B/scopes'],
  ])('gets 404 for %s %s and changes nothing', async (method, pattern) => {
    const path = pattern.replace('B-admin', String(b.userId)).replace('/B', `/${b.companyId}`);
    const res =
      method === 'GET'
        ? await adminA.get(path)
        : await adminA.post(path).type('form').send({ _csrf: adminA.csrf, email: 'mole@a.test', scopes: 'claims:read' });
    expect(res.status).toBe(404);
    expect(res.text).toContain('We could not find that page.');
    expect(res.text).not.toContain('Company B');
    expect(await queryValue(ctx, 'SELECT disabled_at FROM users WHERE id = ?', b.userId)).toBeNull();
    expect(await queryValue(ctx, 'SELECT COUNT(*) FROM users')).toBe(2);
    expect(await queryValue(ctx, 'SELECT COUNT(*) FROM company_scopes WHERE company_id = ?', b.companyId)).toBe(4);
  });

  it('sees only company A in the audit log and its export, even when asking for B', async () => {
    const page = await adminA.get(`/audit?company=${b.companyId}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('admin@a.test');
    expect(page.text).not.toContain('admin@b.test');
    expect(page.text).not.toContain('Company B');

    const csv = await adminA.get(`/audit.csv?company=${b.companyId}`);
    expect(csv.status).toBe(200);
    expect(csv.text).toContain('admin@a.test');
    expect(csv.text).not.toContain('admin@b.test');
  });
});
