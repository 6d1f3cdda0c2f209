import { MINUTE } from '../src/clock';
import { issueInvitation } from '../src/features/auth/service';
import { PASSWORD, anonymousAgent, createTestContext, csrfFrom, seedCompany, signIn } from './helpers';
import { CORPUS } from './support/hostile-corpus';
import type { Agent, SeededUser, TestContext } from './helpers';
import { codeAt, enrolmentIdFrom, enrolTotp, passwordStep, recoveryCodesFrom, secretFrom, signInToEnrol, signInWithCode } from './second-factors-support';

const STEP = 30_000;

const auditActions = async (ctx: TestContext, email: string): Promise<string[]> =>
  ctx.column<string>('SELECT action FROM audit_log WHERE target = ? ORDER BY id', email);

const mails = (ctx: TestContext, to: string) =>
  ctx.query<{ kind: string; subject: string; text: string }>('SELECT kind, subject, text_body AS text FROM outbox WHERE to_address = ? ORDER BY id', to);

describe('second factors: authenticator apps (TOTP) and recovery codes', () => {
  let ctx: TestContext;
  let admin: SeededUser;
  let agent: Agent;
  beforeEach(async () => {
    ctx = createTestContext();
    admin = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    agent = await signIn(ctx.app, admin.email);
  });
  afterEach(() => ctx.close());

  it('enrols an app: an inline SVG QR code and the key, never stored in the clear or cached; one valid code keeps it, with ten recovery codes', async () => {
    const page = await agent.get('/account/security');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Authenticator apps');
    expect(page.text).toContain('Recovery codes');

    const start = await agent.post('/account/security/totp').type('form').send({ _csrf: agent.csrf });
    expect(start.status).toBe(201);
    expect(start.headers['cache-control']).toBe('no-store');
    expect(start.text).toMatch(/<svg[^>]*viewBox/);
    const secret = secretFrom(start.text);
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const stored = await ctx.column<string>('SELECT secret_sealed FROM totp_factors WHERE user_id = ?', admin.userId);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatch(/^sealed:v1:/);
    for (const bytes of ctx.storedBytes()) expect(bytes.includes(secret)).toBe(false);

    const id = enrolmentIdFrom(start.text);
    const wrong = await agent
      .post(`/account/security/totp/${id}/confirm`)
      .type('form')
      .send({ _csrf: agent.csrf, name: 'Phone', code: codeAt(secret, ctx.clock.now() + 5 * STEP) });
    expect(wrong.status).toBe(422);
    expect(wrong.text).toContain('That code is not the one your app shows now');
    expect(secretFrom(wrong.text)).toBe(secret); // the same enrolment, to try again
    expect(await ctx.value('SELECT COUNT(*) FROM totp_factors WHERE confirmed_at IS NOT NULL')).toBe(0);

    const done = await agent
      .post(`/account/security/totp/${id}/confirm`)
      .type('form')
      .send({ _csrf: agent.csrf, name: 'Phone', code: codeAt(secret, ctx.clock.now()) });
    expect(done.status).toBe(200);
    expect(done.headers['cache-control']).toBe('no-store');
    const codes = recoveryCodesFrom(done.text);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    expect(await ctx.value('SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL', admin.userId)).toBe(10);
    for (const bytes of ctx.storedBytes()) for (const code of codes) expect(bytes.includes(code)).toBe(false);

    const after = await agent.get('/account/security');
    expect(after.text).toContain('Phone');
    expect(after.text).toContain('10 of 10 codes unused.');
    expect(after.text).not.toContain(codes[0]);
    expect(after.text).not.toContain('totp-key');
  });

  it('a second app is added without new recovery codes, and an enrolment left for 15 minutes is closed', async () => {
    await enrolTotp(agent, ctx.clock.now());
    const second = await enrolTotp(agent, ctx.clock.now(), 'Tablet');
    expect(second.recoveryCodes).toEqual([]);
    expect(await ctx.column('SELECT name FROM totp_factors WHERE user_id = ? ORDER BY id', admin.userId)).toEqual(['Phone', 'Tablet']);

    const start = await agent.post('/account/security/totp').type('form').send({ _csrf: agent.csrf });
    ctx.clock.advance(16 * MINUTE);
    // 16 minutes on, sudo mode asks for the password too (tests/reauth.test.ts); it is given.
    const late = await agent
      .post(`/account/security/totp/${enrolmentIdFrom(start.text)}/confirm`)
      .type('form')
      .send({ _csrf: agent.csrf, name: 'Late', code: codeAt(secretFrom(start.text), ctx.clock.now()), reauth_password: PASSWORD });
    expect(late.status).toBe(404);
    expect(late.text).toContain('This enrolment is no longer open');
  });

  it('signs in in two steps: the password alone opens nothing, the code signs in and sets checkedAt', async () => {
    const { secret } = await enrolTotp(agent, ctx.clock.now());
    ctx.clock.advance(STEP);
    const pending = await passwordStep(ctx.app, admin.email, '/audit');
    const blocked = await pending.get('/admin/api');
    expect(blocked.status).toBe(303);
    expect(blocked.headers.location).toMatch(/^\/sign-in\?next=/);
    expect(await ctx.value("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.sign_in' AND ip IS NOT NULL AND at = ?", ctx.clock.now())).toBe(0);

    const done = await pending
      .post('/sign-in/second-factor')
      .type('form')
      .send({ _csrf: pending.csrf, code: codeAt(secret, ctx.clock.now()) });
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe('/audit');
    expect((await pending.get('/admin/api')).status).toBe(200);
    const data = await ctx.column<string>('SELECT data FROM sessions WHERE user_id = ?', admin.userId);
    expect(data.map((d) => (JSON.parse(d) as { checkedAt?: number }).checkedAt)).toContain(ctx.clock.now());
    expect((await auditActions(ctx, admin.email)).slice(-1)).toEqual(['auth.sign_in']);
  });

  it('refuses a replayed code: a code is accepted once', async () => {
    const { secret } = await enrolTotp(agent, ctx.clock.now());
    // The code that confirmed the enrolment is spent already.
    const first = await passwordStep(ctx.app, admin.email);
    const replayOfEnrolment = await first
      .post('/sign-in/second-factor')
      .type('form')
      .send({ _csrf: first.csrf, code: codeAt(secret, ctx.clock.now()) });
    expect(replayOfEnrolment.status).toBe(401);
    expect(replayOfEnrolment.text).toContain('That code was already used');

    ctx.clock.advance(STEP);
    const code = codeAt(secret, ctx.clock.now());
    await signInWithCode(ctx.app, admin.email, code);
    const again = await passwordStep(ctx.app, admin.email);
    const replay = await again.post('/sign-in/second-factor').type('form').send({ _csrf: again.csrf, code });
    expect(replay.status).toBe(401);
    expect(replay.text).toContain('That code was already used');
    expect((await again.get('/admin/api')).status).toBe(303);
  });

  it('counts wrong codes in the throttle: past five, even the right code waits', async () => {
    const { secret } = await enrolTotp(agent, ctx.clock.now());
    ctx.clock.advance(STEP);
    const pending = await passwordStep(ctx.app, admin.email);
    const wrong = codeAt(secret, ctx.clock.now() + 10 * STEP);
    for (let i = 0; i < 5; i++) {
      const res = await pending.post('/sign-in/second-factor').type('form').send({ _csrf: pending.csrf, code: wrong });
      expect(res.status).toBe(401);
      expect(res.text).toContain('That code does not match');
    }
    expect(await ctx.value('SELECT count FROM throttle_windows WHERE key = ?', `second-factor:account:${admin.userId}`)).toBe(5);
    const throttled = await pending
      .post('/sign-in/second-factor')
      .type('form')
      .send({ _csrf: pending.csrf, code: codeAt(secret, ctx.clock.now()) });
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    expect(throttled.text).toContain('Too many codes tried');
    expect(await ctx.value("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.second_factor_failed'")).toBe(5);
  });

  it.each([
    ['the previous 30 s step', -1],
    ['the next 30 s step', 1],
  ])('accepts a code of %s (a phone clock a little off)', async (_label, offset) => {
    const { secret } = await enrolTotp(agent, ctx.clock.now());
    ctx.clock.advance(10 * STEP);
    const signedIn = await signInWithCode(ctx.app, admin.email, codeAt(secret, ctx.clock.now() + offset * STEP));
    expect((await signedIn.get('/admin/api')).status).toBe(200);
  });

  it.each([
    ['two steps behind', -2],
    ['two steps ahead', 2],
  ])('refuses a code %s', async (_label, offset) => {
    const { secret } = await enrolTotp(agent, ctx.clock.now());
    ctx.clock.advance(10 * STEP);
    const pending = await passwordStep(ctx.app, admin.email);
    const res = await pending
      .post('/sign-in/second-factor')
      .type('form')
      .send({ _csrf: pending.csrf, code: codeAt(secret, ctx.clock.now() + offset * STEP) });
    expect(res.status).toBe(401);
    expect(res.text).toContain('That code does not match');
  });

  it('refuses every hostile value in the second step with a message, never a 5xx or markup reflected, and nothing signs in', async () => {
    await enrolTotp(agent, ctx.clock.now());
    const pending = await passwordStep(ctx.app, admin.email);
    // The clock moves past the throttles' windows before each value (each one is counted), so every value reaches the check.
    for (const hostile of CORPUS.filter((h) => h.text !== undefined && !h.bodyOnly)) {
      ctx.clock.advance(16 * MINUTE);
      const fresh = await passwordStep(ctx.app, admin.email);
      const res = await fresh.post('/sign-in/second-factor').type('form').send({ _csrf: fresh.csrf, code: hostile.text });
      expect([401, 422]).toContain(res.status);
      expect(res.text).toMatch(/class="error[^"]*"[^>]*>[^<]+</);
      if (/[<>"']/.test(hostile.text!)) expect(res.text).not.toContain(hostile.text!);
      expect((await fresh.get('/admin/api')).status).toBe(303);
    }
    expect((await pending.get('/admin/api')).status).toBe(303);
  });

  it('lets the pending sign-in lapse after five minutes', async () => {
    const { secret } = await enrolTotp(agent, ctx.clock.now());
    const pending = await passwordStep(ctx.app, admin.email);
    ctx.clock.advance(5 * MINUTE);
    const res = await pending
      .post('/sign-in/second-factor')
      .type('form')
      .send({ _csrf: pending.csrf, code: codeAt(secret, ctx.clock.now()) });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/sign-in');
    expect((await pending.get('/admin/api')).status).toBe(303);
  });

  it('a recovery code works once, and is audited and mailed', async () => {
    const { recoveryCodes } = await enrolTotp(agent, ctx.clock.now());
    const first = await passwordStep(ctx.app, admin.email);
    const ok = await first.post('/sign-in/second-factor').type('form').send({ _csrf: first.csrf, code: recoveryCodes[3].toUpperCase() });
    expect(ok.status).toBe(303);
    expect((await first.get('/admin/api')).text).toContain('You signed in with a recovery code. 9 unused codes left.');
    expect(await auditActions(ctx, admin.email)).toContain('second_factor.recovery_code_used');
    expect((await mails(ctx, admin.email)).map((m) => m.subject)).toContain('A recovery code was used to sign in');

    const second = await passwordStep(ctx.app, admin.email);
    const again = await second.post('/sign-in/second-factor').type('form').send({ _csrf: second.csrf, code: recoveryCodes[3] });
    expect(again.status).toBe(401);
    expect(await ctx.value('SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL', admin.userId)).toBe(9);
  });

  it('new recovery codes replace the old set: an old code no longer works', async () => {
    const { recoveryCodes: old } = await enrolTotp(agent, ctx.clock.now());
    const res = await agent.post('/account/security/recovery-codes').type('form').send({ _csrf: agent.csrf });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const fresh = recoveryCodesFrom(res.text);
    expect(fresh).toHaveLength(10);
    expect(fresh.filter((c) => old.includes(c))).toEqual([]);
    expect(await auditActions(ctx, admin.email)).toContain('second_factor.recovery_codes_regenerated');

    const withOld = await passwordStep(ctx.app, admin.email);
    expect((await withOld.post('/sign-in/second-factor').type('form').send({ _csrf: withOld.csrf, code: old[0] })).status).toBe(401);
    const withNew = await passwordStep(ctx.app, admin.email);
    expect((await withNew.post('/sign-in/second-factor').type('form').send({ _csrf: withNew.csrf, code: fresh[0] })).status).toBe(303);
  });

  it('audits and mails an added and a removed app; without an app, the password alone signs in again', async () => {
    await enrolTotp(agent, ctx.clock.now());
    const id = await ctx.value<number>('SELECT id FROM totp_factors WHERE user_id = ?', admin.userId);
    const removed = await agent.post(`/account/security/totp/${id}/remove`).type('form').send({ _csrf: agent.csrf });
    expect(removed.status).toBe(303);
    expect(await auditActions(ctx, admin.email)).toEqual(expect.arrayContaining(['second_factor.add', 'second_factor.remove']));
    const sent = await mails(ctx, admin.email);
    expect(sent.map((m) => [m.kind, m.subject])).toEqual([
      ['security_notice', 'An authenticator app was added to your account'],
      ['security_notice', 'An authenticator app was removed from your account'],
    ]);
    expect(sent[0].text).toContain('“Phone”');
    expect(await ctx.value('SELECT COUNT(*) FROM recovery_codes WHERE user_id = ?', admin.userId)).toBe(0);
    await signIn(ctx.app, admin.email); // one step again
  });

  it('does not remove the last app while the company requires a second factor', async () => {
    await enrolTotp(agent, ctx.clock.now());
    await ctx.query('INSERT INTO factor_requirements (company_id, required_at) VALUES (?, ?)', admin.companyId, ctx.clock.now());
    const id = await ctx.value<number>('SELECT id FROM totp_factors WHERE user_id = ?', admin.userId);
    const res = await agent.post(`/account/security/totp/${id}/remove`).type('form').send({ _csrf: agent.csrf });
    expect(res.status).toBe(303);
    expect((await agent.get('/account/security')).text).toContain('A second factor is required for your account');
    expect(await ctx.value('SELECT COUNT(*) FROM totp_factors WHERE user_id = ?', admin.userId)).toBe(1);
  });

  it('answers htmx with the panel alone', async () => {
    const res = await agent.post('/account/security/totp').set('HX-Request', 'true').type('form').send({ _csrf: agent.csrf });
    expect(res.status).toBe(201);
    expect(res.text.trimStart()).toMatch(/^<div id="security-panel"/);
    expect(res.text).not.toContain('<html');
    expect(res.headers.vary).toMatch(/HX-Request/);
  });

  it('shows the second step again for a user with an app after an invitation sets a new password', async () => {
    await enrolTotp(agent, ctx.clock.now());
    const { token } = await issueInvitation({ db: ctx.database, clock: ctx.clock }, admin.userId, null);
    const visitor = await anonymousAgent(ctx.app);
    const page = await visitor.get(`/invitation?token=${token}`);
    const res = await visitor
      .post('/invitation')
      .type('form')
      .send({ _csrf: csrfFrom(page.text), token, password: 'a brand new password', confirm: 'a brand new password' });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/sign-in/second-factor');
    expect((await visitor.get('/admin/api')).status).toBe(303);
  });
});

describe('operators: the policy, and resetting a user’s factors', () => {
  let ctx: TestContext;
  let admin: SeededUser;
  let operator: Agent;
  beforeEach(async () => {
    ctx = createTestContext();
    admin = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    await seedCompany(ctx, 'Operators', 'operator@ops.test', { operator: true });
    operator = await signIn(ctx.app, 'operator@ops.test');
  });
  afterEach(() => ctx.close());

  it('requires a second factor for a company’s administrators: they enrol before anything else, then go on', async () => {
    const res = await operator.post(`/operator/companies/${admin.companyId}/second-factor`).type('form').send({ _csrf: operator.csrf, required: 'on' });
    expect(res.status).toBe(303);
    expect(await ctx.value('SELECT COUNT(*) FROM factor_requirements WHERE company_id = ?', admin.companyId)).toBe(1);
    expect((await operator.get(`/operator/companies/${admin.companyId}`)).text).toContain('Administrators must have a second factor.');
    expect(await ctx.value("SELECT COUNT(*) FROM audit_log WHERE action = 'second_factor.policy'")).toBe(1);

    const agent = await signInToEnrol(ctx.app, admin.email);
    const api = await agent.get('/admin/api');
    expect(api.status).toBe(303);
    expect(api.headers.location).toBe('/account/security');
    const page = await agent.get('/account/security');
    expect(page.text).toContain('Your account needs a second factor');
    await enrolTotp(agent, ctx.clock.now());
    expect((await agent.get('/admin/api')).status).toBe(200);
  });

  it('requires a second factor for operators on the Sign-in security page', async () => {
    const page = await operator.get('/operator/security');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Operators may sign in with a password alone.');
    await operator.post('/operator/security').type('form').send({ _csrf: operator.csrf, required: 'on' });
    expect(await ctx.value("SELECT value FROM settings WHERE key = 'operators_require_second_factor'")).toBe('on');
    // This operator's next request already goes to enrolment; the administrator is not affected.
    const next = await operator.get('/operator/companies');
    expect(next.headers.location).toBe('/account/security');
    expect((await (await signIn(ctx.app, admin.email)).get('/admin/api')).status).toBe(200);
  });

  it('resets a user’s factors from the company page: audited, mailed, and the password alone signs in', async () => {
    const agent = await signIn(ctx.app, admin.email);
    await enrolTotp(agent, ctx.clock.now());
    const page = await operator.get(`/operator/companies/${admin.companyId}`);
    expect(page.text).toContain('1 authenticator app');
    const res = await operator
      .post(`/operator/companies/${admin.companyId}/users/${admin.userId}/reset-factors`)
      .type('form')
      .send({ _csrf: csrfFrom(page.text) });
    expect(res.status).toBe(303);
    expect(await ctx.value('SELECT COUNT(*) FROM totp_factors WHERE user_id = ?', admin.userId)).toBe(0);
    expect(await ctx.value('SELECT COUNT(*) FROM recovery_codes WHERE user_id = ?', admin.userId)).toBe(0);
    const entry = (await ctx.query<{ actor: string; details: string }>("SELECT actor, details FROM audit_log WHERE action = 'second_factor.reset'"))[0];
    expect(entry.actor).toBe('operator@ops.test');
    expect(JSON.parse(entry.details)).toEqual({ removed: 1, passkeys: 0, recoveryCodes: 10 });
    expect((await mails(ctx, admin.email)).map((m) => m.subject)).toContain('The second factors of your account were reset');
    await signIn(ctx.app, admin.email);
  });

  it('does not reset a user of another company through this company’s page', async () => {
    const other = await seedCompany(ctx, 'Other', 'admin@other.test');
    const res = await operator.post(`/operator/companies/${admin.companyId}/users/${other.userId}/reset-factors`).type('form').send({ _csrf: operator.csrf });
    expect(res.status).toBe(404);
    expect(await ctx.value("SELECT COUNT(*) FROM audit_log WHERE action = 'second_factor.reset'")).toBe(0);
  });
});
