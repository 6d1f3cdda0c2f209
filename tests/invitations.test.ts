import request from 'supertest';
import { HOUR } from '../src/clock';
import { anonymousAgent, createTestContext, csrfFrom, seedCompany, signIn, queryValue, queryColumn } from './helpers';
import type { Agent, TestContext } from './helpers';

const NEW_PASSWORD = 'a brand new password';

/** The one-time link shown in the invite response. */
function linkFrom(html: string): string {
  const match = /id="invite-link"[^>]*value="([^"]+)"/.exec(html);
  if (!match) throw new Error('no invitation link in the page');
  return match[1].replace(/&amp;/g, '&');
}

const pathOf = (link: string): string => {
  const url = new URL(link);
  return `${url.pathname}${url.search}`;
};

describe('inviting an administrator', () => {
  let ctx: TestContext;
  let acme: Awaited<ReturnType<typeof seedCompany>>;
  let operator: Agent;
  beforeEach(async () => {
    ctx = createTestContext();
    const ops = await seedCompany(ctx, 'Operators', 'ops@example.test', { operator: true });
    acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    operator = await signIn(ctx.app, ops.email);
  });
  afterEach(() => ctx.close());

  const invite = (email: string, htmx = false) => {
    const req = operator.post(`/operator/companies/${acme.companyId}/invitations`);
    if (htmx) req.set('HX-Request', 'true');
    return req.type('form').send({ _csrf: operator.csrf, email });
  };

  describe('POST /operator/companies/:id/invitations', () => {
    it('shows the link once, never cached, mails it, and records the invitation', async () => {
      const res = await invite('New.Admin@Acme.test');
      expect(res.status).toBe(201);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.text).toContain('<h1>Acme</h1>');
      expect(res.text).toContain('Invitation created for <strong>new.admin@acme.test</strong>');
      const link = linkFrom(res.text);
      expect(link).toMatch(/^http:\/\/127\.0\.0\.1:3000\/invitation\?token=[A-Za-z0-9_-]{43}$/);

      // Only the digest is stored; the page never shows the link again.
      const token = new URL(link).searchParams.get('token') as string;
      expect(JSON.stringify(await ctx.query('SELECT * FROM invitations'))).not.toContain(token);
      const again = await operator.get(`/operator/companies/${acme.companyId}`);
      expect(again.text).not.toContain(token);
      expect(again.text).toMatch(
        /<td data-label="Email">new\.admin@acme\.test<\/td>\s*<td data-label="Role">Administrator<\/td>\s*<td data-label="Status">Invited<\/td>/,
      );

      expect(await ctx.query('SELECT to_address AS "toAddress", kind FROM outbox')).toEqual([{ toAddress: 'new.admin@acme.test', kind: 'invitation' }]);
      expect(ctx.logs()).not.toContain(token);

      expect(await ctx.query(`SELECT actor, target, company_id AS "companyId" FROM audit_log WHERE action = 'user.invite'`)).toEqual([
        { actor: 'ops@example.test', target: 'new.admin@acme.test', companyId: acme.companyId },
      ]);
      expect(JSON.stringify(await ctx.query('SELECT * FROM audit_log'))).not.toContain(token);
    });

    it('with htmx answers only the invite fragment, still never cached', async () => {
      const res = await invite('new.admin@acme.test', true);
      expect(res.status).toBe(201);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers.vary).toMatch(/HX-Request/);
      expect(res.text.trim()).toMatch(/^<div id="invite">/);
      expect(res.text).not.toContain('<html');
      expect(res.text).not.toContain('<h1>');
      expect(linkFrom(res.text)).toContain('/invitation?token=');
    });

    it('re-renders the form with a kind message for a bad address, with and without htmx', async () => {
      const page = await invite('not an address');
      expect(page.status).toBe(422);
      expect(page.text).toContain('<h1>Acme</h1>');
      expect(page.text).toContain('Enter an email address like name@example.com.');
      expect(page.text).toContain('value="not an address"');

      const fragment = await invite('', true);
      expect(fragment.status).toBe(422);
      expect(fragment.headers.vary).toMatch(/HX-Request/);
      expect(fragment.text.trim()).toMatch(/^<div id="invite">/);
      expect(fragment.text).toContain('Enter an email address.');
      expect(await queryValue(ctx, 'SELECT COUNT(*) FROM invitations')).toBe(0);
    });

    it('refuses an address that already has an account', async () => {
      const res = await invite('ADMIN@acme.test');
      expect(res.status).toBe(422);
      expect(res.text).toContain('This address already has an account.');
    });

    it.each([
      ['markup', '<img src=x onerror=alert(1)>@acme.test'],
      ['quotes', '"><script>alert(1)</script>"@acme.test'],
      ['10 kB', `${'a'.repeat(10_240)}@acme.test`],
    ])('rejects a hostile address (%s) and echoes it escaped, never a 500', async (_label, email) => {
      const res = await invite(email);
      expect(res.status).toBe(422);
      expect(res.text).not.toContain('<img src=x');
      expect(res.text).not.toContain('<script>alert');
      expect(res.text).toMatch(/An email address is at most 254 characters\.|Enter an email address like name@example\.com\./);
      expect(await queryValue(ctx, 'SELECT COUNT(*) FROM users')).toBe(2);
    });

    it('sends a fresh link to an invited address; the first link stops working', async () => {
      const first = linkFrom((await invite('new.admin@acme.test')).text);
      const second = linkFrom((await invite('new.admin@acme.test')).text);
      expect(second).not.toBe(first);
      expect((await request(ctx.app).get(pathOf(first))).status).toBe(404);
      expect((await request(ctx.app).get(pathOf(second))).status).toBe(200);
      expect(await queryColumn(ctx, "SELECT details FROM audit_log WHERE action = 'user.invite' ORDER BY id")).toEqual([
        '{"operator":false,"resent":false}',
        '{"operator":false,"resent":true}',
      ]);
    });

    it('can invite a fellow operator', async () => {
      const res = await operator
        .post(`/operator/companies/${acme.companyId}/invitations`)
        .type('form')
        .send({ _csrf: operator.csrf, email: 'ops2@acme.test', isOperator: 'on' });
      expect(res.status).toBe(201);
      expect(await queryValue(ctx, 'SELECT is_operator FROM users WHERE email = ?', 'ops2@acme.test')).toBe(1);
    });
  });

  describe('GET and POST /invitation', () => {
    let link: string;
    beforeEach(async () => {
      link = linkFrom((await invite('new.admin@acme.test')).text);
    });

    it('lets the invited administrator choose a password, signs them in, and they can sign in again later', async () => {
      const agent = request.agent(ctx.app);
      const form = await agent.get(pathOf(link));
      expect(form.status).toBe(200);
      expect(form.text).toContain('Choose your password');
      expect(form.text).toContain('<strong>new.admin@acme.test</strong>');

      const res = await agent
        .post('/invitation')
        .type('form')
        .send({ _csrf: csrfFrom(form.text), token: new URL(link).searchParams.get('token'), password: NEW_PASSWORD, confirm: NEW_PASSWORD });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/');
      const audit = await agent.get('/audit');
      expect(audit.status).toBe(200);
      expect(audit.text).toContain('Your password is set. Welcome!');
      expect(audit.text).toContain('new.admin@acme.test · Acme');

      const later = await anonymousAgent(ctx.app);
      const signInRes = await later.post('/sign-in').type('form').send({ _csrf: later.csrf, email: 'new.admin@acme.test', password: NEW_PASSWORD });
      expect(signInRes.status).toBe(303);
      expect(await queryColumn(ctx, "SELECT target FROM audit_log WHERE action = 'auth.password_set'")).toEqual(['new.admin@acme.test']);
    });

    it('refuses the link once it is used, with a kind page', async () => {
      const agent = request.agent(ctx.app);
      const form = await agent.get(pathOf(link));
      const token = new URL(link).searchParams.get('token');
      await agent
        .post('/invitation')
        .type('form')
        .send({ _csrf: csrfFrom(form.text), token, password: NEW_PASSWORD, confirm: NEW_PASSWORD });

      const reuse = await request(ctx.app).get(pathOf(link));
      expect(reuse.status).toBe(404);
      expect(reuse.text).toContain('This link was already used.');

      const attacker = await anonymousAgent(ctx.app);
      const post = await attacker
        .post('/invitation')
        .type('form')
        .send({ _csrf: attacker.csrf, token, password: 'attacker password', confirm: 'attacker password' });
      expect(post.status).toBe(404);
      expect(post.text).toContain('This link was already used.');
      const signInRes = await attacker
        .post('/sign-in')
        .type('form')
        .send({ _csrf: attacker.csrf, email: 'new.admin@acme.test', password: 'attacker password' });
      expect(signInRes.status).toBe(401);
    });

    it('refuses the link after 72 hours', async () => {
      ctx.clock.advance(71 * HOUR);
      expect((await request(ctx.app).get(pathOf(link))).status).toBe(200);
      ctx.clock.advance(2 * HOUR);
      const res = await request(ctx.app).get(pathOf(link));
      expect(res.status).toBe(404);
      expect(res.text).toContain('This link has expired. Links are valid for 72 hours');
    });

    it('refuses an unknown, truncated or missing token', async () => {
      for (const path of ['/invitation?token=unknown', pathOf(link).slice(0, -3), '/invitation', `/invitation?token=${'x'.repeat(5000)}`]) {
        const res = await request(ctx.app).get(path);
        expect(res.status).toBe(404);
        expect(res.text).toContain('We do not recognise this link.');
      }
    });

    it('refuses a password over 72 bytes with a clear message and keeps the link usable', async () => {
      const agent = request.agent(ctx.app);
      const form = await agent.get(pathOf(link));
      const token = new URL(link).searchParams.get('token');
      const long = `${'🔑'.repeat(18)}x`; // 19 characters on screen, 73 bytes
      const res = await agent
        .post('/invitation')
        .type('form')
        .send({ _csrf: csrfFrom(form.text), token, password: long, confirm: long });
      expect(res.status).toBe(422);
      expect(res.text).toContain('Use at most 72 bytes (fewer if you use accented letters or emoji): longer passwords would be cut short.');
      expect(await queryValue(ctx, 'SELECT password_hash FROM users WHERE email = ?', 'new.admin@acme.test')).toBeNull();

      const ok = await agent
        .post('/invitation')
        .type('form')
        .send({ _csrf: csrfFrom(res.text), token, password: NEW_PASSWORD, confirm: NEW_PASSWORD });
      expect(ok.status).toBe(303);
    });

    it('asks for the same password twice', async () => {
      const agent = request.agent(ctx.app);
      const form = await agent.get(pathOf(link));
      const token = new URL(link).searchParams.get('token');
      const res = await agent
        .post('/invitation')
        .type('form')
        .send({ _csrf: csrfFrom(form.text), token, password: NEW_PASSWORD, confirm: `${NEW_PASSWORD}!` });
      expect(res.status).toBe(422);
      expect(res.text).toContain('The two passwords are not the same.');
    });
  });
});

describe('an invitation for a disabled user', () => {
  it('cannot be used to get back in', async () => {
    const ctx = createTestContext();
    try {
      const ops = await seedCompany(ctx, 'Operators', 'ops@example.test', { operator: true });
      const operator = await signIn(ctx.app, ops.email);
      const res = await operator
        .post(`/operator/companies/${ops.companyId}/invitations`)
        .type('form')
        .send({ _csrf: operator.csrf, email: 'new@example.test' });
      const link = linkFrom(res.text);
      const userId = (await queryValue(ctx, 'SELECT id FROM users WHERE email = ?', 'new@example.test')) as number;
      await operator.post(`/operator/companies/${ops.companyId}/users/${userId}/disable`).type('form').send({ _csrf: operator.csrf });

      const page = await request(ctx.app).get(pathOf(link));
      expect(page.status).toBe(404);
      expect(page.text).toContain('This account has been disabled, so the link no longer works.');
      expect(await queryValue(ctx, 'SELECT password_hash FROM users WHERE id = ?', userId)).toBeNull();
    } finally {
      await ctx.close();
    }
  });
});
