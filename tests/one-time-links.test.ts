import request from 'supertest';
import { AuditLog } from '../src/features/audit/service';
import { issueInvitation, issueSetupToken } from '../src/features/auth/service';
import { anonymousAgent, createTestContext, seedCompany, seedUser, signIn, queryValue } from './helpers';
import type { Agent, SeededUser, TestContext } from './helpers';

const NEW_PASSWORD = 'a brand new passphrase';

/** A documentation link as the grant email carries it: Acme's admin asks for `email`, the operator grants. */
async function grantedDocsLink(ctx: TestContext, admin: Agent, operator: Agent, email: string): Promise<string> {
  expect((await admin.post('/admin/api/docs-access').type('form').send({ _csrf: admin.csrf, email })).status).toBe(303);
  const id = (await queryValue(ctx, "SELECT id FROM access_requests WHERE email = ? AND status = 'pending'", email)) as number;
  expect((await operator.post(`/operator/access-requests/${id}/grant`).type('form').send({ _csrf: operator.csrf })).status).toBe(303);
  const mail = (await queryValue(ctx, 'SELECT text_body FROM outbox WHERE to_address = ? ORDER BY id DESC LIMIT 1', email)) as string;
  return /\/docs\/access\?token=([A-Za-z0-9_-]{43})/.exec(mail)![1];
}

describe('pages that carry a one-time token are never cached (Cache-Control: no-store)', () => {
  let ctx: TestContext;
  beforeEach(() => {
    ctx = createTestContext();
  });
  afterEach(() => ctx.close());

  describe('/setup', () => {
    const setupToken = () => issueSetupToken({ db: ctx.database, clock: ctx.clock, audit: new AuditLog(ctx.database, ctx.clock), bcryptCost: 10 });

    it('GET with the valid token, and with a wrong one', async () => {
      const token = await setupToken();
      const page = await request(ctx.app).get(`/setup?token=${token}`);
      expect(page.status).toBe(200);
      expect(page.text).toContain(`value="${token}"`);
      expect(page.headers['cache-control']).toBe('no-store');
      const wrong = await request(ctx.app).get('/setup?token=wrong');
      expect(wrong.status).toBe(404);
      expect(wrong.headers['cache-control']).toBe('no-store');
    });

    it('POST that shows the form again with its errors (and the token)', async () => {
      const token = await setupToken();
      const visitor = await anonymousAgent(ctx.app);
      const res = await visitor
        .post('/setup')
        .type('form')
        .send({ _csrf: visitor.csrf, token, companyName: 'Acme', email: 'ops@acme.test', password: 'short', confirm: 'short' });
      expect(res.status).toBe(422);
      expect(res.text).toContain(`value="${token}"`);
      expect(res.headers['cache-control']).toBe('no-store');
    });
  });

  describe('/invitation', () => {
    let acme: SeededUser;
    let token: string;
    beforeEach(async () => {
      acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
      token = (await issueInvitation({ db: ctx.database, clock: ctx.clock }, (await seedUser(ctx, acme.companyId, 'new@acme.test')).userId, acme.userId)).token;
    });

    it('GET with the valid token, and with a wrong one', async () => {
      const page = await request(ctx.app).get(`/invitation?token=${token}`);
      expect(page.status).toBe(200);
      expect(page.text).toContain('Choose your password');
      expect(page.headers['cache-control']).toBe('no-store');
      const wrong = await request(ctx.app).get('/invitation?token=wrong');
      expect(wrong.status).toBe(404);
      expect(wrong.headers['cache-control']).toBe('no-store');
    });

    it('POST that shows the form again with its errors, and the page of a used link', async () => {
      const visitor = await anonymousAgent(ctx.app);
      const invalid = await visitor.post('/invitation').type('form').send({ _csrf: visitor.csrf, token, password: 'short', confirm: 'short' });
      expect(invalid.status).toBe(422);
      expect(invalid.text).toContain(`value="${token}"`);
      expect(invalid.headers['cache-control']).toBe('no-store');

      expect((await visitor.post('/invitation').type('form').send({ _csrf: visitor.csrf, token, password: NEW_PASSWORD, confirm: NEW_PASSWORD })).status).toBe(
        303,
      );
      const used = await request(ctx.app).get(`/invitation?token=${token}`);
      expect(used.status).toBe(404);
      expect(used.text).toContain('This link was already used.');
      expect(used.headers['cache-control']).toBe('no-store');
    });
  });

  describe('/docs/access (the personal documentation link)', () => {
    it('GET with the valid token, and with a wrong one', async () => {
      const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
      await seedCompany(ctx, 'Operators', 'ops@example.test', { operator: true });
      const token = await grantedDocsLink(ctx, await signIn(ctx.app, acme.email), await signIn(ctx.app, 'ops@example.test'), 'dev@acme.test');
      const open = await request(ctx.app).get(`/docs/access?token=${token}`);
      expect(open.status).toBe(303);
      expect(open.headers['cache-control']).toBe('no-store');
      const wrong = await request(ctx.app).get(`/docs/access?token=${'x'.repeat(43)}`);
      expect(wrong.status).toBe(403);
      expect(wrong.headers['cache-control']).toBe('no-store');
    });
  });
});

describe('GET /docs/access: the audit entry goes to the link’s company and names only its own', () => {
  let ctx: TestContext;
  let acme: SeededUser;
  let globex: SeededUser;
  let token: string;
  beforeEach(async () => {
    ctx = createTestContext();
    acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    globex = await seedCompany(ctx, 'Globex', 'admin@globex.test');
    await seedCompany(ctx, 'Operators', 'ops@example.test', { operator: true });
    token = await grantedDocsLink(ctx, await signIn(ctx.app, acme.email), await signIn(ctx.app, 'ops@example.test'), 'dev@acme.test');
  });
  afterEach(() => ctx.close());

  const linkOpens = () =>
    ctx.query(
      `SELECT company_id AS "companyId", actor_user_id AS "userId", actor, target, ip, user_agent AS "userAgent" FROM audit_log WHERE action = 'docs_access.link_open'`,
    );

  it('records a user of another company as “the link was opened”: no email, address or browser of theirs', async () => {
    const stranger = await signIn(ctx.app, globex.email);
    const res = await stranger.get(`/docs/access?token=${token}`).set('User-Agent', 'GlobexBrowser/1.0');
    expect(res.status).toBe(303);
    expect((await stranger.get('/docs')).status).toBe(200);

    expect(await linkOpens()).toEqual([
      { companyId: acme.companyId, userId: null, actor: 'dev@acme.test', target: 'dev@acme.test', ip: null, userAgent: null },
    ]);
    const anywhere = await queryValue(
      ctx,
      "SELECT COUNT(*) FROM audit_log WHERE company_id = ? AND (actor LIKE '%globex%' OR user_agent LIKE '%Globex%')",
      acme.companyId,
    );
    expect(anywhere).toBe(0);
    const acmeLog = await (await signIn(ctx.app, acme.email)).get('/audit');
    expect(acmeLog.status).toBe(200);
    expect(acmeLog.text).toContain('docs_access.link_open');
    expect(acmeLog.text).not.toContain('globex');
  });

  it('still names a user of the link’s own company, with address and browser', async () => {
    const colleague = await signIn(ctx.app, acme.email);
    expect((await colleague.get(`/docs/access?token=${token}`).set('User-Agent', 'AcmeBrowser/1.0')).status).toBe(303);
    expect(await linkOpens()).toEqual([
      {
        companyId: acme.companyId,
        userId: acme.userId,
        actor: acme.email,
        target: 'dev@acme.test',
        ip: expect.stringContaining('127.0.0.1'),
        userAgent: 'AcmeBrowser/1.0',
      },
    ]);
  });

  it('records a visitor who is not signed in as the link’s holder', async () => {
    expect((await request(ctx.app).get(`/docs/access?token=${token}`).set('User-Agent', 'HolderBrowser/1.0')).status).toBe(303);
    expect(await linkOpens()).toEqual([
      {
        companyId: acme.companyId,
        userId: null,
        actor: 'dev@acme.test',
        target: 'dev@acme.test',
        ip: expect.stringContaining('127.0.0.1'),
        userAgent: 'HolderBrowser/1.0',
      },
    ]);
  });
});
