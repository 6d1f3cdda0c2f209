import request from 'supertest';
import { sha256 } from '../src/crypto';
import { DAY, MINUTE } from '../src/clock';
import { insertAccessRequest } from '../src/features/docs-access/repo';
import type { OpenApiDocument } from '../src/features/docs-access/openapi';
import { anonymousAgent, createTestContext, seedCompany, seedUser, signIn } from './helpers';
import type { Agent, SeededUser } from './helpers';

type Ctx = ReturnType<typeof createTestContext>;

/** The first column of each row the query returns. */
async function column<T>(ctx: Ctx, text: string, ...params: unknown[]): Promise<T[]> {
  return (await ctx.query(text, ...params)).map((row) => Object.values(row)[0] as T);
}

/** The first column of the first row the query returns. */
async function scalar<T>(ctx: Ctx, text: string, ...params: unknown[]): Promise<T> {
  return (await column<T>(ctx, text, ...params))[0];
}

async function newRequest(ctx: Ctx, agent: Agent, email: string): Promise<number> {
  const res = await agent.post('/admin/api/docs-access').type('form').send({ _csrf: agent.csrf, email });
  if (res.status !== 303) throw new Error(`request failed: ${res.status}`);
  return scalar<number>(ctx, "SELECT id FROM access_requests WHERE email = ? AND status = 'pending'", email);
}

async function lastMail(ctx: Ctx, to: string): Promise<{ subject: string; text: string; html: string; kind: string; state: string }> {
  const [mail] = await ctx.query<{ subject: string; text: string; html: string; kind: string; state: string }>(
    'SELECT subject, text_body AS text, html_body AS html, kind, state FROM outbox WHERE to_address = ? ORDER BY id DESC LIMIT 1',
    to,
  );
  return mail;
}

function linkToken(text: string): string {
  const match = /\/docs\/access\?token=([A-Za-z0-9_-]{43})/.exec(text);
  if (!match) throw new Error('no documentation link in the message');
  return match[1];
}

function auditActions(ctx: Ctx, target: string): Promise<string[]> {
  return column<string>(ctx, 'SELECT action FROM audit_log WHERE target = ? ORDER BY id', target);
}

describe('Operator review of access requests', () => {
  const ctx = createTestContext();
  let acme: SeededUser;
  let admin: Agent;
  let operator: Agent;

  beforeAll(async () => {
    acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    const ops = await seedCompany(ctx, 'Operators', 'ops@console.test', { operator: true });
    expect(ops.companyId).not.toBe(acme.companyId);
    admin = await signIn(ctx.app, 'admin@acme.test');
    operator = await signIn(ctx.app, 'ops@console.test');
  });
  afterAll(() => ctx.close());

  describe('GET /operator/access-requests', () => {
    it('lists pending requests first, with filters by status, company and address', async () => {
      const first = await newRequest(ctx, admin, 'first@acme.test');
      ctx.clock.advance(60_000);
      await newRequest(ctx, admin, 'second@acme.test');
      await operator.post(`/operator/access-requests/${first}/deny`).type('form').send({ _csrf: operator.csrf });
      ctx.clock.advance(60_000);
      await newRequest(ctx, admin, 'third@acme.test');

      const all = await operator.get('/operator/access-requests');
      expect(all.status).toBe(200);
      const order = [...all.text.matchAll(/<h2 id="request-\d+-title">([^ ]+) /g)].map((m) => m[1]);
      expect(order).toEqual(['third@acme.test', 'second@acme.test', 'first@acme.test']);

      const denied = await operator.get('/operator/access-requests?status=denied');
      expect(denied.text).toContain('first@acme.test');
      expect(denied.text).not.toContain('second@acme.test');

      const search = await operator.get('/operator/access-requests?email=seco').set('HX-Request', 'true');
      expect(search.status).toBe(200);
      expect(search.text.trim()).toMatch(/^<div id="access-requests">/);
      expect(search.text).toContain('second@acme.test');
      expect(search.text).not.toContain('third@acme.test');

      const byCompany = await operator.get(`/operator/access-requests?company=${acme.companyId + 1000}`);
      expect(byCompany.text).toContain('No requests match.');
    });

    it('rejects a bad filter with a clear message', async () => {
      const res = await operator.get('/operator/access-requests?status=everything');
      expect(res.status).toBe(422);
      expect(res.text).toContain('Choose a status from the list.');
    });
  });

  describe('POST /operator/access-requests/:id/grant', () => {
    it('grants, mails a personal link (stored only as SHA-256) and audits (no htmx)', async () => {
      const id = await scalar<number>(ctx, "SELECT id FROM access_requests WHERE email = 'second@acme.test'");
      const res = await operator
        .post(`/operator/access-requests/${id}/grant`)
        .type('form')
        .send({ _csrf: operator.csrf, message: 'Welcome aboard.\nSee the token section first.' });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/operator/access-requests');
      const page = await operator.get('/operator/access-requests?status=granted');
      expect(page.text).toContain('Access granted to second@acme.test. A personal documentation link was sent by email.');
      expect(page.text).toContain('<span class="status status-granted">Granted</span>');
      expect(page.text).toContain('by ops@console.test');

      const mail = await lastMail(ctx, 'second@acme.test');
      expect(mail).toMatchObject({ kind: 'access_granted', state: 'kept', subject: 'Your access to the OAuth 2.0 API documentation' });
      expect(mail.text).toContain('Welcome aboard.\nSee the token section first.');
      expect(mail.text).toContain('http://127.0.0.1:3000/docs/access?token=');
      expect(mail.html).toContain('href="http://127.0.0.1:3000/docs/access?token=');
      const token = linkToken(mail.text);
      const stored = await scalar<Buffer>(ctx, 'SELECT token_hash FROM docs_links WHERE request_id = ?', id);
      expect(stored.equals(sha256(token))).toBe(true);
      expect(await auditActions(ctx, 'second@acme.test')).toEqual(['docs_access.request', 'docs_access.grant']);
      expect(await scalar(ctx, "SELECT details FROM audit_log WHERE action = 'docs_access.grant'")).not.toContain(token);
      // The requester's area shows the decision.
      const area = await admin.get('/admin/api/docs-access');
      expect(area.text).toMatch(/<td data-label="Email">second@acme\.test<\/td>\s*<td data-label="Status"><span class="status status-granted">Granted<\/span>/);
    });

    it('says so when the company requests an address that already has access', async () => {
      const res = await admin.post('/admin/api/docs-access').set('HX-Request', 'true').type('form').send({ _csrf: admin.csrf, email: 'second@acme.test' });
      expect(res.status).toBe(409);
      expect(res.text.trim()).toMatch(/^<details class="area" id="docs-access" open>/);
      expect(res.text).toContain('second@acme.test already has access to the documentation (granted 2026-11-01).');
      expect(await scalar(ctx, "SELECT COUNT(*) FROM access_requests WHERE email = 'second@acme.test'")).toBe(1);
    });

    it('grants through htmx with a full-page redirect', async () => {
      const id = await scalar<number>(ctx, "SELECT id FROM access_requests WHERE email = 'third@acme.test'");
      const res = await operator.post(`/operator/access-requests/${id}/grant`).set('HX-Request', 'true').type('form').send({ _csrf: operator.csrf });
      expect(res.status).toBe(204);
      expect(res.headers['hx-redirect']).toBe('/operator/access-requests');
      expect((await lastMail(ctx, 'third@acme.test')).text).not.toContain('Message from the reviewer');
    });

    it('refuses to decide a request twice', async () => {
      const id = await scalar<number>(ctx, "SELECT id FROM access_requests WHERE email = 'third@acme.test'");
      const res = await operator.post(`/operator/access-requests/${id}/deny`).type('form').send({ _csrf: operator.csrf });
      expect(res.status).toBe(409);
      expect(res.text).toContain('The request for third@acme.test is granted, so it cannot be denied.');
    });

    it('answers 404 for a request that does not exist and 400 for a malformed id', async () => {
      expect((await operator.post('/operator/access-requests/99999/grant').type('form').send({ _csrf: operator.csrf })).status).toBe(404);
      expect((await operator.post('/operator/access-requests/abc/grant').type('form').send({ _csrf: operator.csrf })).status).toBe(400);
    });
  });

  describe('POST /operator/access-requests/:id/deny', () => {
    it('denies with the operator’s message, mailed to the address and escaped everywhere', async () => {
      const id = await newRequest(ctx, admin, 'fourth@acme.test');
      const res = await operator
        .post(`/operator/access-requests/${id}/deny`)
        .type('form')
        .send({ _csrf: operator.csrf, message: 'Not yet <b>sorry</b> & thanks' });
      expect(res.status).toBe(303);
      const mail = await lastMail(ctx, 'fourth@acme.test');
      expect(mail.kind).toBe('access_denied');
      expect(mail.subject).toBe('Your request for the OAuth 2.0 API documentation');
      expect(mail.text).toContain('Not yet <b>sorry</b> & thanks');
      expect(mail.html).toContain('Not yet &lt;b&gt;sorry&lt;/b&gt; &amp; thanks');
      expect(mail.text).not.toContain('/docs/access');
      const page = await operator.get('/operator/access-requests?status=denied');
      expect(page.text).toContain('Not yet &lt;b&gt;sorry&lt;/b&gt; &amp; thanks');
      expect(await auditActions(ctx, 'fourth@acme.test')).toEqual(['docs_access.request', 'docs_access.deny']);
    });

    it('keeps a too-long message with an inline error and decides nothing (no htmx and htmx)', async () => {
      const id = await newRequest(ctx, admin, 'fifth@acme.test');
      const long = 'x'.repeat(1001);
      const res = await operator.post(`/operator/access-requests/${id}/deny`).type('form').send({ _csrf: operator.csrf, message: long });
      expect(res.status).toBe(422);
      expect(res.text).toContain('<html');
      expect(res.text).toContain(`<p class="error" id="message-${id}-error">A message is at most 1000 characters.</p>`);
      expect(res.text).toContain(`aria-invalid="true">${'x'.repeat(1000)}</textarea>`);
      const htmx = await operator
        .post(`/operator/access-requests/${id}/grant`)
        .set('HX-Request', 'true')
        .type('form')
        .send({ _csrf: operator.csrf, message: long });
      expect(htmx.status).toBe(422);
      expect(htmx.text.trim()).toMatch(/^<div id="access-requests">/);
      expect(await scalar(ctx, 'SELECT status FROM access_requests WHERE id = ?', id)).toBe('pending');
    });
  });

  describe('POST /operator/access-requests/:id/revoke', () => {
    it('revokes a grant (audited) and only a grant', async () => {
      const id = await newRequest(ctx, admin, 'sixth@acme.test');
      expect((await operator.post(`/operator/access-requests/${id}/revoke`).type('form').send({ _csrf: operator.csrf })).status).toBe(409);
      await operator.post(`/operator/access-requests/${id}/grant`).type('form').send({ _csrf: operator.csrf });
      const res = await operator.post(`/operator/access-requests/${id}/revoke`).type('form').send({ _csrf: operator.csrf });
      expect(res.status).toBe(303);
      expect(await scalar(ctx, 'SELECT status FROM access_requests WHERE id = ?', id)).toBe('revoked');
      expect(await scalar(ctx, 'SELECT COUNT(*) FROM docs_links WHERE request_id = ? AND revoked_at IS NULL', id)).toBe(0);
      expect(await auditActions(ctx, 'sixth@acme.test')).toEqual(['docs_access.request', 'docs_access.grant', 'docs_access.revoke']);
      // After a revocation the address may be requested again.
      const again = await newRequest(ctx, admin, 'sixth@acme.test');
      expect(again).not.toBe(id);
    });
  });
});

describe('Who can read the documentation', () => {
  const ctx = createTestContext();
  let operator: Agent;
  let admin: Agent;
  let grantedUser: Agent;
  let deniedUser: Agent;
  let token: string;
  let requestId: number;

  beforeAll(async () => {
    const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    await seedUser(ctx, acme.companyId, 'granted@acme.test');
    await seedUser(ctx, acme.companyId, 'denied@acme.test');
    await seedCompany(ctx, 'Operators', 'ops@console.test', { operator: true });
    admin = await signIn(ctx.app, 'admin@acme.test');
    operator = await signIn(ctx.app, 'ops@console.test');
    grantedUser = await signIn(ctx.app, 'granted@acme.test');
    deniedUser = await signIn(ctx.app, 'denied@acme.test');

    requestId = await newRequest(ctx, admin, 'dev@partner.test');
    await operator.post(`/operator/access-requests/${requestId}/grant`).type('form').send({ _csrf: operator.csrf });
    token = linkToken((await lastMail(ctx, 'dev@partner.test')).text);
    const granted = await newRequest(ctx, admin, 'granted@acme.test');
    await operator.post(`/operator/access-requests/${granted}/grant`).type('form').send({ _csrf: operator.csrf });
    const denied = await newRequest(ctx, admin, 'denied@acme.test');
    await operator.post(`/operator/access-requests/${denied}/deny`).type('form').send({ _csrf: operator.csrf });
  });
  afterAll(() => ctx.close());

  it('shows anyone without access how to request it (403), and openapi.json answers 403 JSON', async () => {
    const page = await request(ctx.app).get('/docs');
    expect(page.status).toBe(403);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.text).toContain('How to request access');
    expect(page.text).toContain('Select <strong>Request Access</strong>');
    expect(page.text).not.toContain('/oauth/token');
    const json = await request(ctx.app).get('/docs/openapi.json');
    expect(json.status).toBe(403);
    expect(json.body).toEqual({ error: 'docs_access_required', error_description: expect.stringContaining('Request access on the API page') });
  });

  it('keeps the documentation from a signed-in user whose address was denied, or never requested', async () => {
    expect((await deniedUser.get('/docs')).status).toBe(403);
    expect((await deniedUser.get('/docs/openapi.json')).status).toBe(403);
    expect((await operator.get('/docs')).status).toBe(403);
  });

  it('shows the documentation to a signed-in user whose address holds a grant', async () => {
    const page = await grantedUser.get('/docs');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<code>/oauth/token</code>');
    const json = await grantedUser.get('/docs/openapi.json');
    expect(json.status).toBe(200);
    expect((json.body as OpenApiDocument).openapi).toBe('3.1.0');
    const area = await grantedUser.get('/admin/api/docs-access');
    expect(area.text).toContain('<a href="/docs">open the OAuth 2.0 API documentation</a>');
  });

  it('opens a documentation session from the personal link, without the token in the next URL', async () => {
    const visitor = await anonymousAgent(ctx.app);
    const open = await visitor.get(`/docs/access?token=${token}`);
    expect(open.status).toBe(303);
    expect(open.headers.location).toBe('/docs');
    expect(open.headers['cache-control']).toBe('no-store');
    const page = await visitor.get('/docs');
    expect(page.status).toBe(200);
    expect(page.headers['cache-control']).toBe('private, no-store');
    expect(page.text).toContain('http://127.0.0.1:3000/oauth/token');
    expect(page.text).toContain('curl http://127.0.0.1:3000/oauth/token');
    expect(page.text).toContain('<code>claims:read</code>');
    const json = await visitor.get('/docs/openapi.json');
    expect(json.status).toBe(200);
    expect((json.body as OpenApiDocument).servers).toEqual([{ url: 'http://127.0.0.1:3000', description: 'This deployment' }]);
    expect(await column(ctx, "SELECT actor FROM audit_log WHERE action = 'docs_access.link_open'")).toEqual(['dev@partner.test']);
  });

  it('refuses an unknown or malformed link', async () => {
    for (const bad of ['x'.repeat(43), 'short', '']) {
      const res = await request(ctx.app).get(`/docs/access?token=${bad}`);
      expect(res.status).toBe(403);
      expect(res.text).toContain('This documentation link is not valid.');
    }
  });

  it('sends a new link on request; the old one stops working', async () => {
    const res = await operator.post(`/operator/access-requests/${requestId}/resend`).type('form').send({ _csrf: operator.csrf });
    expect(res.status).toBe(303);
    const fresh = linkToken((await lastMail(ctx, 'dev@partner.test')).text);
    expect(fresh).not.toBe(token);
    const old = await request(ctx.app).get(`/docs/access?token=${token}`);
    expect(old.status).toBe(403);
    expect(old.text).toContain('no longer works');
    expect((await request(ctx.app).get(`/docs/access?token=${fresh}`)).status).toBe(303);
    token = fresh;
  });

  it('closes a revoked grant at once: its link and the documentation sessions it opened', async () => {
    const visitor = await anonymousAgent(ctx.app);
    await visitor.get(`/docs/access?token=${token}`);
    expect((await visitor.get('/docs')).status).toBe(200);
    await operator.post(`/operator/access-requests/${requestId}/revoke`).type('form').send({ _csrf: operator.csrf });
    const page = await visitor.get('/docs');
    expect(page.status).toBe(403);
    expect((await visitor.get('/docs/openapi.json')).status).toBe(403);
    const link = await request(ctx.app).get(`/docs/access?token=${token}`);
    expect(link.status).toBe(403);
    expect(link.text).toContain('access was revoked');
  });

  it('stops an expired link (30 days), and the session it opened', async () => {
    const id = await newRequest(ctx, admin, 'later@partner.test');
    await operator.post(`/operator/access-requests/${id}/grant`).type('form').send({ _csrf: operator.csrf });
    const token = linkToken((await lastMail(ctx, 'later@partner.test')).text);
    ctx.clock.advance(30 * DAY - 30 * MINUTE);
    const visitor = await anonymousAgent(ctx.app);
    expect((await visitor.get(`/docs/access?token=${token}`)).status).toBe(303);
    expect((await visitor.get('/docs')).status).toBe(200);
    ctx.clock.advance(31 * MINUTE); // the session is still alive; the link behind it is not
    expect((await visitor.get('/docs')).status).toBe(403);
    const expired = await request(ctx.app).get(`/docs/access?token=${token}`);
    expect(expired.status).toBe(403);
    expect(expired.text).toContain('This documentation link has expired.');
  });
});

describe('GET /operator/access-requests (paging)', () => {
  const ctx = createTestContext();
  let operator: Agent;

  beforeAll(async () => {
    const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    await seedCompany(ctx, 'Operators', 'ops@console.test', { operator: true });
    for (let i = 0; i < 55; i++) {
      ctx.clock.advance(1000);
      await insertAccessRequest(ctx.database, acme.companyId, `dev${i}@acme.test`, acme.userId, ctx.clock.now());
    }
    await insertAccessRequest(ctx.database, acme.companyId, 'lead@acme.test', acme.userId, ctx.clock.now());
    operator = await signIn(ctx.app, 'ops@console.test');
  });
  afterAll(() => ctx.close());

  it('pages 50 requests at a time, keeping the filter (not its default) in the links', async () => {
    const first = await operator.get('/operator/access-requests?status=all&email=dev');
    expect(first.status).toBe(200);
    expect(first.text).toContain('<p>55 requests.</p>');
    expect(first.text).toContain('Page 1 of 2');
    expect(first.text).toContain('href="/operator/access-requests?email=dev&page=2">Next</a>');
    expect(first.text).not.toContain('>Previous</a>');

    const last = await operator.get('/operator/access-requests?status=pending&email=dev&page=2').set('HX-Request', 'true');
    expect(last.status).toBe(200);
    expect(last.text.trim()).toMatch(/^<div id="access-requests">/);
    expect(last.text).toContain('Page 2 of 2');
    expect((last.text.match(/<section class="card request"/g) ?? []).length).toBe(5);
    expect(last.text).toContain('href="/operator/access-requests?status=pending&amp;email=dev&page=1">Previous</a>');
    expect(last.text).not.toContain('>Next</a>');
  });

  it('counts one request in the singular, with no pager', async () => {
    const res = await operator.get('/operator/access-requests?email=lead');
    expect(res.text).toContain('<p>1 request.</p>');
    expect(res.text).not.toContain('class="pager"');
  });
});
