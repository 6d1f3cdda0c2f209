import { MINUTE } from '../src/clock';
import { listSecondFactors, mustEnrol } from '../src/features/second-factors/service';
import { anonymousAgent, csrfFrom, seedCompany, seedUser, signIn } from './helpers';
import type { Agent } from './helpers';
import { enrolTotp, passwordStep, signInToEnrol } from './second-factors-support';
import { addPasskeyWith, eachPasskeyWorld, json } from './support/passkeys';

/**
 * A passkey as a second factor: it counts for the second step and for the required-factor policy, and
 * the second step after a password can be passed with one of the pending user's passkeys (only theirs).
 */

describe('passkeys as a second factor', () => {
  const w = eachPasskeyWorld();

  const addPasskey = (agent: Agent, name?: string): Promise<string> => addPasskeyWith(w.authenticator, agent, name);

  /** A user (password signs them in) who then adds a passkey; returns the credential id. */
  async function withPasskey(email: string, name?: string): Promise<string> {
    return addPasskey(await signIn(w.ctx.app, email), name);
  }

  async function secondStepOptions(agent: Agent): Promise<{ challenge: string; allowCredentials?: { id: string }[] }> {
    const res = await json(agent, '/sign-in/second-factor/passkey/options', {});
    expect(res.status).toBe(200);
    return res.body as { challenge: string; allowCredentials?: { id: string }[] };
  }

  const requireFactor = () => w.ctx.query('INSERT INTO factor_requirements (company_id, required_at) VALUES (?, ?)', w.admin.companyId, w.ctx.clock.now());

  describe('counting', () => {
    it('counts a passkey as a second factor (hasAny) and for the policy (no enrolment needed)', async () => {
      await requireFactor();
      const deps = { db: w.ctx.database };
      expect((await listSecondFactors(deps, w.admin.userId)).hasAny).toBe(false);
      expect(await mustEnrol(deps, w.admin.userId)).toBe(true);
      await w.ctx.query(
        'INSERT INTO passkeys (user_id, credential_id, public_key, counter, transports, name, created_at) VALUES (?, ?, ?, 0, ?, ?, ?)',
        w.admin.userId,
        'counted',
        Buffer.from('key'),
        '[]',
        'Laptop',
        w.ctx.clock.now(),
      );
      const mine = await listSecondFactors(deps, w.admin.userId);
      expect(mine.hasAny).toBe(true);
      expect(mine.passkeys.map((p) => p.name)).toEqual(['Laptop']);
      expect(await mustEnrol(deps, w.admin.userId)).toBe(false);
    });

    it('lets a user who must enrol add a passkey, which opens the console', async () => {
      await requireFactor();
      const enrolling = await signInToEnrol(w.ctx.app, 'admin@a.test');
      expect((await enrolling.get('/audit')).headers.location).toBe('/account/security');
      const page = await enrolling.get('/account/passkeys');
      expect(page.status).toBe(200);
      await addPasskey(enrolling);
      expect((await enrolling.get('/audit')).status).toBe(200);
    });
  });

  describe('removing the last factor while one is required', () => {
    it('refuses to remove the last passkey when it is the only factor, and allows it while an authenticator app remains', async () => {
      const agent = await signIn(w.ctx.app, 'admin@a.test');
      await addPasskey(agent);
      await requireFactor();
      const id = await w.ctx.value<number>('SELECT id FROM passkeys');
      const refused = await agent.post(`/account/passkeys/${id}/delete`).type('form').send({ _csrf: agent.csrf });
      expect(refused.status).toBe(303);
      expect(refused.headers.location).toBe('/account/passkeys');
      expect(await w.ctx.value('SELECT count(*) FROM passkeys')).toBe(1);
      expect((await agent.get('/account/passkeys')).text).toContain('A second factor is required for your account');
      const htmx = await agent.post(`/account/passkeys/${id}/delete`).set('HX-Request', 'true').type('form').send({ _csrf: agent.csrf });
      expect(htmx.status).toBe(409);
      expect(htmx.text).toContain('add another passkey or an authenticator app');

      await enrolTotp(agent, w.ctx.clock.now());
      const removed = await agent.post(`/account/passkeys/${id}/delete`).type('form').send({ _csrf: agent.csrf });
      expect(removed.status).toBe(303);
      expect(await w.ctx.value('SELECT count(*) FROM passkeys')).toBe(0);
    });

    it('refuses removing the only authenticator app when it is the only factor, and allows it once a passkey is added', async () => {
      const agent = await signIn(w.ctx.app, 'admin@a.test');
      await enrolTotp(agent, w.ctx.clock.now());
      await requireFactor();
      const totpId = await w.ctx.value<number>('SELECT id FROM totp_factors WHERE confirmed_at IS NOT NULL');
      const refused = await agent.post(`/account/security/totp/${totpId}/remove`).type('form').send({ _csrf: agent.csrf });
      expect(await w.ctx.value('SELECT count(*) FROM totp_factors WHERE confirmed_at IS NOT NULL')).toBe(1);
      expect(refused.headers.location).toBe('/account/security');
      expect((await agent.get('/account/security')).text).toContain('add another authenticator app or a passkey before you remove this one');

      await addPasskey(agent);
      await agent.post(`/account/security/totp/${totpId}/remove`).type('form').send({ _csrf: agent.csrf });
      expect(await w.ctx.value('SELECT count(*) FROM totp_factors WHERE confirmed_at IS NOT NULL')).toBe(0);
    });
  });

  it("an operator sees a user's passkeys on the company page, and a reset removes them too (a lost phone): the password alone signs in again", async () => {
    await withPasskey('admin@a.test');
    await seedCompany(w.ctx, 'Operators', 'ops@ops.test', { operator: true });
    const operator = await signIn(w.ctx.app, 'ops@ops.test');
    // The company page counts the passkey among the user's second factors.
    expect((await operator.get(`/operator/companies/${w.admin.companyId}`)).text).toContain('1 passkey');
    const res = await operator
      .post(`/operator/companies/${w.admin.companyId}/users/${w.admin.userId}/reset-factors`)
      .type('form')
      .send({ _csrf: operator.csrf });
    expect(res.status).toBe(303);
    expect(await w.ctx.value('SELECT count(*) FROM passkeys')).toBe(0);
    const details = await w.ctx.value<string>("SELECT details FROM audit_log WHERE action = 'second_factor.reset'");
    expect(JSON.parse(details!)).toEqual({ removed: 0, passkeys: 1, recoveryCodes: 0 });
    expect((await (await signIn(w.ctx.app, 'admin@a.test')).get('/audit')).status).toBe(200);
  });

  describe('the second step page', () => {
    it('offers only the passkey to a user whose only factor is a passkey, saying plainly that it needs JavaScript', async () => {
      await withPasskey('admin@a.test');
      const agent = await passwordStep(w.ctx.app, 'admin@a.test');
      const page = await agent.get('/sign-in/second-factor');
      expect(page.text).toContain('Now use your passkey');
      expect(page.text).toMatch(
        /<button type="button" class="primary" data-passkey-sign-in data-passkey-only data-options-url="\/sign-in\/second-factor\/passkey\/options" data-answer-url="\/sign-in\/second-factor\/passkey" hidden>Use a passkey<\/button>/,
      );
      expect(page.text).toContain('<p class="hint" data-passkey-no-script>Using a passkey needs JavaScript');
      expect(page.text).toContain('<script src="/js/passkeys.js" defer></script>');
      expect(page.text).not.toContain('name="code"');
    });

    it('offers the passkey and the code form to a user with both', async () => {
      const agent = await signIn(w.ctx.app, 'admin@a.test');
      await enrolTotp(agent, w.ctx.clock.now());
      await addPasskey(agent);
      const step = await passwordStep(w.ctx.app, 'admin@a.test');
      const page = await step.get('/sign-in/second-factor');
      expect(page.text).toContain('Use a passkey');
      expect(page.text).toContain('name="code"');
      expect(page.text).toContain('Without it, type a code below.');
    });

    it('offers no passkey to a user without one', async () => {
      await enrolTotp(await signIn(w.ctx.app, 'admin@a.test'), w.ctx.clock.now());
      const page = await (await passwordStep(w.ctx.app, 'admin@a.test')).get('/sign-in/second-factor');
      expect(page.text).toContain('name="code"');
      expect(page.text).not.toContain('Use a passkey');
      expect(page.text).not.toContain('/js/passkeys.js');
    });
  });

  describe('POST /sign-in/second-factor/passkey', () => {
    it('signs in the pending user with their passkey, records how, and goes where the sign-in was headed', async () => {
      const credentialId = await withPasskey('admin@a.test');
      const agent = await passwordStep(w.ctx.app, 'admin@a.test', '/audit');
      const options = await secondStepOptions(agent);
      expect(options.allowCredentials?.map((c) => c.id)).toEqual([credentialId]);
      const res = await json(agent, '/sign-in/second-factor/passkey', { response: w.authenticator.assert(credentialId, options) });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ redirect: '/audit' });
      expect((await agent.get('/audit')).status).toBe(200);
      const details = await w.ctx.value<string>("SELECT details FROM audit_log WHERE action = 'auth.sign_in' ORDER BY id DESC LIMIT 1");
      expect(JSON.parse(details!)).toEqual({ method: 'passkey', step: 'second' });
      expect(await w.ctx.value<number>('SELECT last_used_at FROM passkeys')).toBe(w.ctx.clock.now());
    });

    it("refuses another user's passkey: no sign-in, audited as a failed second step", async () => {
      await withPasskey('admin@a.test');
      await seedUser(w.ctx, w.admin.companyId, 'colleague@a.test');
      const colleagueKey = await withPasskey('colleague@a.test', 'Colleague key');
      const agent = await passwordStep(w.ctx.app, 'admin@a.test');
      const options = await secondStepOptions(agent);
      const res = await json(agent, '/sign-in/second-factor/passkey', { response: w.authenticator.assert(colleagueKey, options) });
      expect(res.status).toBe(401);
      expect((res.body as { errors: Record<string, string> }).errors._form).toBe(
        'That passkey is not one of yours for this account. Use one of your passkeys, or start again.',
      );
      expect((await agent.get('/audit')).headers.location).toMatch(/^\/sign-in/);
      expect(await w.ctx.value("SELECT count(*) FROM audit_log WHERE action = 'auth.second_factor_failed' AND target = 'admin@a.test'")).toBe(1);
    });

    it('refuses without a pending sign-in (options and answer), sending the script back to the sign-in page', async () => {
      const credentialId = await withPasskey('admin@a.test');
      const stranger = await anonymousAgent(w.ctx.app);
      const options = await json(stranger, '/sign-in/second-factor/passkey/options', {});
      expect(options.status).toBe(401);
      expect(options.body).toMatchObject({ redirect: '/sign-in' });
      const res = await json(stranger, '/sign-in/second-factor/passkey', { response: w.authenticator.assert(credentialId, { challenge: 'made-up' }) });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ redirect: '/sign-in' });
      expect((await stranger.get('/audit')).headers.location).toMatch(/^\/sign-in/);
    });

    it('refuses once the pending sign-in waited too long (5 minutes)', async () => {
      const credentialId = await withPasskey('admin@a.test');
      const agent = await passwordStep(w.ctx.app, 'admin@a.test');
      const options = await secondStepOptions(agent);
      w.ctx.clock.advance(5 * MINUTE);
      const res = await json(agent, '/sign-in/second-factor/passkey', { response: w.authenticator.assert(credentialId, options) });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ redirect: '/sign-in', error_description: 'Your sign-in waited too long for its second step. Please sign in again.' });
      expect((await agent.get('/audit')).headers.location).toMatch(/^\/sign-in/);
    });

    it('refuses a user disabled while their sign-in waited for its second step', async () => {
      const credentialId = await withPasskey('admin@a.test');
      const agent = await passwordStep(w.ctx.app, 'admin@a.test');
      const options = await secondStepOptions(agent);
      await w.ctx.query('UPDATE users SET disabled_at = ? WHERE id = ?', w.ctx.clock.now(), w.admin.userId);
      const res = await json(agent, '/sign-in/second-factor/passkey', { response: w.authenticator.assert(credentialId, options) });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ redirect: '/sign-in', error_description: 'That email and password do not match an active account.' });
      expect(await w.ctx.value<number | null>('SELECT last_used_at FROM passkeys')).toBeNull();
    });

    it('counts refused assertions with the second step throttle, like codes', async () => {
      await withPasskey('admin@a.test');
      await seedUser(w.ctx, w.admin.companyId, 'colleague@a.test');
      const colleagueKey = await withPasskey('colleague@a.test', 'Colleague key');
      const agent = await passwordStep(w.ctx.app, 'admin@a.test');
      for (let i = 0; i < 5; i += 1) {
        const options = await secondStepOptions(agent);
        expect((await json(agent, '/sign-in/second-factor/passkey', { response: w.authenticator.assert(colleagueKey, options) })).status).toBe(401);
      }
      const options = await secondStepOptions(agent);
      const res = await json(agent, '/sign-in/second-factor/passkey', { response: w.authenticator.assert(colleagueKey, options) });
      expect(res.status).toBe(429);
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
      const code = await agent.post('/sign-in/second-factor').type('form').send({ _csrf: agent.csrf, code: '123456' });
      expect(code.status).toBe(429);
    });

    it('refuses an answer without the CSRF token even while the sign-in waits for its second step (403, no sign-in)', async () => {
      const credentialId = await withPasskey('admin@a.test');
      const agent = await passwordStep(w.ctx.app, 'admin@a.test');
      const options = await secondStepOptions(agent);
      const forged = await agent.post('/sign-in/second-factor/passkey').send({ response: w.authenticator.assert(credentialId, options) });
      expect(forged.status).toBe(403);
      expect((await agent.get('/audit')).headers.location).toMatch(/^\/sign-in/);
      expect(await w.ctx.value("SELECT count(*) FROM audit_log WHERE action = 'auth.sign_in'")).toBe(1); // the sign-in that added the passkey
    });

    it('without script (a plain form post) goes back to the second step, saying a passkey needs JavaScript', async () => {
      await withPasskey('admin@a.test');
      const agent = await passwordStep(w.ctx.app, 'admin@a.test');
      const res = await agent.post('/sign-in/second-factor/passkey').type('form').send({ _csrf: agent.csrf });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/sign-in/second-factor');
      const page = await agent.get('/sign-in/second-factor');
      expect(page.text).toContain('Using a passkey needs JavaScript. Turn JavaScript on and try again.');
      expect(csrfFrom(page.text)).toBe(agent.csrf);
    });
  });
});
