import request from 'supertest';
import { createTestContext, seedCompany, seedUser, signIn } from './helpers';
import type { Agent, SeededUser } from './helpers';

const AREA = '/admin/api/docs-access';

function requestRows(ctx: ReturnType<typeof createTestContext>, companyId: number): Promise<{ id: number; email: string; status: string }[]> {
  return ctx.query('SELECT id, email, status FROM access_requests WHERE company_id = ? ORDER BY id', companyId);
}

describe('Request access to the OAuth 2.0 API documentation', () => {
  const ctx = createTestContext();
  let acme: SeededUser;
  let globex: SeededUser;
  let admin: Agent;
  let otherAdmin: Agent;
  let operator: Agent;

  beforeAll(async () => {
    acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    globex = await seedCompany(ctx, 'Globex', 'admin@globex.test');
    await seedUser(ctx, globex.companyId, 'ops@globex.test', { operator: true });
    admin = await signIn(ctx.app, 'admin@acme.test');
    otherAdmin = await signIn(ctx.app, 'admin@globex.test');
    operator = await signIn(ctx.app, 'ops@globex.test');
  });
  afterAll(() => ctx.close());

  describe('GET /admin/api/docs-access', () => {
    it('shows the area, open, with the Request Access button (full page without htmx)', async () => {
      const res = await admin.get(AREA);
      expect(res.status).toBe(200);
      expect(res.headers['vary']).toMatch(/HX-Request/);
      expect(res.text).toContain('<html');
      expect(res.text).toMatch(/<details class="area" id="docs-access" open>/);
      expect(res.text).toContain('<summary>Request access to the OAuth 2.0 API documentation</summary>');
      expect(res.text).toMatch(/<button type="submit" class="primary">Request Access<\/button>/);
      expect(res.text).toContain('href="/admin/api"');
    });

    it('answers htmx with the area alone, targetable as #docs-access', async () => {
      const res = await admin.get(AREA).set('HX-Request', 'true');
      expect(res.status).toBe(200);
      expect(res.text).not.toContain('<html');
      expect(res.text.trim()).toMatch(/^<details class="area" id="docs-access" open>/);
      expect(res.text).toContain('hx-target="#docs-access"');
      expect(res.text).toContain('hx-swap="outerHTML"');
    });

    it('shows the Email field (prefilled with your address) after Request Access', async () => {
      const res = await admin.get(`${AREA}?step=email`);
      expect(res.status).toBe(200);
      expect(res.text).toMatch(/<label for="f-email">Email<\/label>/);
      expect(res.text).toMatch(/name="email" type="email" value="admin@acme.test"/);
      expect(res.text).toMatch(/>Next<\/button>/);
    });

    it('rejects an unknown step with a clear 400', async () => {
      const res = await admin.get(`${AREA}?step=grant-myself`);
      expect(res.status).toBe(400);
      expect(res.text).toContain('step:');
    });

    it('is the third expandable area of the API page, closed until expanded', async () => {
      const res = await admin.get('/admin/api');
      expect(res.status).toBe(200);
      const areas = [...res.text.matchAll(/<details class="area" id="([a-z-]+)"( open)?>/g)].map((m) => [m[1], Boolean(m[2])]);
      expect(areas[2]).toEqual(['docs-access', false]);
      expect(res.text).toContain('<summary>Request access to the OAuth 2.0 API documentation</summary>');
      expect(res.text).toContain('hx-get="/admin/api/docs-access"');
    });

    it('sends a visitor who is not signed in to sign in', async () => {
      const res = await request(ctx.app).get(AREA);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/sign-in?next=%2Fadmin%2Fapi%2Fdocs-access');
    });
  });

  describe('POST /admin/api/docs-access/next', () => {
    it.each([
      ['empty', '', 'Enter an email address.'],
      ['not an address', 'dev-team', 'Enter an email address like name@example.com.'],
      ['too long', `${'a'.repeat(250)}@example.com`, 'An email address is at most 254 characters.'],
    ])('rejects an email that is %s with an inline error (no htmx)', async (_label, email, message) => {
      const res = await admin.post(`${AREA}/next`).type('form').send({ _csrf: admin.csrf, email });
      expect(res.status).toBe(422);
      expect(res.text).toContain('<html');
      expect(res.text).toContain(`<p class="error" id="f-email-error">${message}</p>`);
      expect(res.text).toContain('aria-invalid="true"');
      expect(await requestRows(ctx, acme.companyId)).toHaveLength(0);
    });

    it('rejects a hostile email inline and escapes the markup it carried (htmx)', async () => {
      const hostile = '"><script>alert(1)</script>@x.test';
      const res = await admin.post(`${AREA}/next`).set('HX-Request', 'true').type('form').send({ _csrf: admin.csrf, email: hostile });
      expect(res.status).toBe(422);
      expect(res.text).not.toContain('<html');
      expect(res.text).toContain('Enter an email address like name@example.com.');
      expect(res.text).not.toContain('<script>alert(1)</script>');
      expect(res.text).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;@x.test"');
    });

    it('shows the confirmation step with the address, Back and Request Access (no htmx)', async () => {
      const res = await admin.post(`${AREA}/next`).type('form').send({ _csrf: admin.csrf, email: '  Dev.Lead@Acme.test ' });
      expect(res.status).toBe(200);
      expect(res.text).toContain('<html');
      expect(res.text).toContain('<strong class="confirm-email">dev.lead@acme.test</strong>');
      expect(res.text).toContain('<input type="hidden" name="email" value="dev.lead@acme.test">');
      expect(res.text).toMatch(/formaction="\/admin\/api\/docs-access\/back"[^>]*>Back<\/button>/);
      expect(res.text).toMatch(/<button type="submit" class="primary">Request Access<\/button>/);
      expect(await requestRows(ctx, acme.companyId)).toHaveLength(0);
    });

    it('shows the confirmation step as a fragment for htmx', async () => {
      const res = await admin.post(`${AREA}/next`).set('HX-Request', 'true').type('form').send({ _csrf: admin.csrf, email: 'dev.lead@acme.test' });
      expect(res.status).toBe(200);
      expect(res.text.trim()).toMatch(/^<details class="area" id="docs-access" open>/);
      expect(res.text).toContain('hx-post="/admin/api/docs-access/back"');
      expect(res.text).toContain('<strong class="confirm-email">dev.lead@acme.test</strong>');
    });

    it('refuses a form without the CSRF token', async () => {
      const res = await admin.post(`${AREA}/next`).type('form').send({ email: 'dev.lead@acme.test' });
      expect(res.status).toBe(403);
    });
  });

  describe('POST /admin/api/docs-access/back', () => {
    it('returns to the Email field with the value kept and editable (no htmx)', async () => {
      const res = await admin.post(`${AREA}/back`).type('form').send({ _csrf: admin.csrf, email: 'dev.lead@acme.test' });
      expect(res.status).toBe(200);
      expect(res.text).toContain('<html');
      expect(res.text).toMatch(/<input id="f-email" name="email" type="email" value="dev.lead@acme.test"/);
      expect(res.text).toMatch(/>Next<\/button>/);
      expect(res.text).not.toContain('confirm-email');
    });

    it('returns to the Email field with the value kept (htmx), escaping whatever came back', async () => {
      const res = await admin.post(`${AREA}/back`).set('HX-Request', 'true').type('form').send({ _csrf: admin.csrf, email: 'a"<b>@acme.test' });
      expect(res.status).toBe(200);
      expect(res.text.trim()).toMatch(/^<details class="area" id="docs-access" open>/);
      expect(res.text).toContain('value="a&quot;&lt;b&gt;@acme.test"');
    });
  });

  describe('POST /admin/api/docs-access', () => {
    it('records a pending request, then shows its status (no htmx: redirect after POST)', async () => {
      const res = await admin.post(AREA).type('form').send({ _csrf: admin.csrf, email: 'dev.lead@acme.test' });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe(AREA);
      expect(await requestRows(ctx, acme.companyId)).toEqual([expect.objectContaining({ email: 'dev.lead@acme.test', status: 'pending' })]);

      const page = await admin.get(res.headers.location);
      expect(page.text).toContain('Request sent for dev.lead@acme.test. It is pending; you will be notified when you are granted access.');
      expect(page.text).toMatch(
        /<td data-label="Email">dev\.lead@acme\.test<\/td>\s*<td data-label="Status"><span class="status status-pending">Pending<\/span><\/td>/,
      );
      expect(page.text).toContain('<time datetime="2026-11-01T09:00:00.000Z">2026-11-01 09:00 UTC</time>');
      expect(page.text).toContain('Waiting for review');

      const audit = await ctx.query(`SELECT actor, target, company_id AS "companyId" FROM audit_log WHERE action = 'docs_access.request'`);
      expect(audit).toEqual([{ actor: 'admin@acme.test', target: 'dev.lead@acme.test', companyId: acme.companyId }]);
    });

    it('records a request and swaps in the area with its status (htmx)', async () => {
      const res = await admin.post(AREA).set('HX-Request', 'true').type('form').send({ _csrf: admin.csrf, email: 'admin@acme.test' });
      expect(res.status).toBe(200);
      expect(res.headers['hx-redirect']).toBeUndefined();
      expect(res.text.trim()).toMatch(/^<details class="area" id="docs-access" open>/);
      expect(res.text).toContain('Request sent for admin@acme.test.');
      expect(res.text).toMatch(/<td data-label="Email">admin@acme\.test<\/td>\s*<td data-label="Status"><span class="status status-pending">Pending<\/span>/);
      expect((await requestRows(ctx, acme.companyId)).map((r) => r.email)).toEqual(['dev.lead@acme.test', 'admin@acme.test']);
    });

    it('says so instead of duplicating a pending request (submit and Next)', async () => {
      const res = await admin.post(AREA).type('form').send({ _csrf: admin.csrf, email: 'DEV.LEAD@acme.test' });
      expect(res.status).toBe(409);
      expect(res.text).toContain('A request for dev.lead@acme.test is already pending (sent 2026-11-01). You will be notified when it is decided.');

      const next = await admin.post(`${AREA}/next`).set('HX-Request', 'true').type('form').send({ _csrf: admin.csrf, email: 'dev.lead@acme.test' });
      expect(next.status).toBe(422);
      expect(next.text).toContain('A request for dev.lead@acme.test is already pending');
      expect(await requestRows(ctx, acme.companyId)).toHaveLength(2);
    });

    it('re-validates the address on submit (a tampered hidden field gets the inline error)', async () => {
      const res = await admin.post(AREA).set('HX-Request', 'true').type('form').send({ _csrf: admin.csrf, email: '<img src=x onerror=alert(1)>' });
      expect(res.status).toBe(422);
      expect(res.text).toContain('Enter an email address like name@example.com.');
      expect(res.text).not.toContain('<img src=x');
      expect(await requestRows(ctx, acme.companyId)).toHaveLength(2);
    });
  });

  describe('tenancy', () => {
    it('does not show one company’s requests to another company’s administrator', async () => {
      const res = await otherAdmin.get(AREA);
      expect(res.status).toBe(200);
      expect(res.text).not.toContain('dev.lead@acme.test');
      expect(res.text).not.toContain('Requests from your company');
    });

    it('lets another company request the same address on its own', async () => {
      const res = await otherAdmin.post(AREA).type('form').send({ _csrf: otherAdmin.csrf, email: 'dev.lead@acme.test' });
      expect(res.status).toBe(303);
      expect(await requestRows(ctx, globex.companyId)).toEqual([expect.objectContaining({ email: 'dev.lead@acme.test', status: 'pending' })]);
    });

    it('gives an administrator of another company no way to see or decide the request', async () => {
      const [acmeRequest] = await requestRows(ctx, acme.companyId);
      expect((await otherAdmin.get('/operator/access-requests')).status).toBe(404);
      for (const action of ['grant', 'deny', 'revoke', 'resend']) {
        const res = await otherAdmin.post(`/operator/access-requests/${acmeRequest.id}/${action}`).type('form').send({ _csrf: otherAdmin.csrf });
        expect(res.status).toBe(404);
      }
      expect((await requestRows(ctx, acme.companyId))[0].status).toBe('pending');
      // The operator, though, sees every company's requests.
      const review = await operator.get('/operator/access-requests');
      expect(review.status).toBe(200);
      expect(review.text).toContain('Acme');
      expect(review.text).toContain('Globex');
    });
  });
});
