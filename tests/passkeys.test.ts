import { MINUTE } from '../src/clock';
import { AuditLog } from '../src/features/audit/service';
import { hasPasskeys, verifyPasskeyAssertion, authenticationOptions } from '../src/features/passkeys/service';
import { anonymousAgent, csrfFrom, seedCompany, seedUser, signIn } from './helpers';
import type { Agent, TestContext } from './helpers';
import { addPasskeyWith, json, ORIGIN, passkeyWorld } from './support/passkeys';
import type { SoftAuthenticator } from './support/soft-authenticator';

/** A refusal as the page script reads it: messages by field, and the console's JSON error shape (the first message). */
const refusal = (errors: Record<string, string>) => ({ error: expect.any(String) as string, error_description: Object.values(errors)[0], errors });

describe('passkeys', () => {
  let ctx: TestContext;
  let authenticator: SoftAuthenticator;
  let admin: { companyId: number; userId: number };

  beforeEach(async () => {
    ({ ctx, admin, authenticator } = await passkeyWorld());
  });
  afterEach(() => ctx.close());

  /** Adds a passkey through both steps; returns its credential id. */
  const addPasskey = (agent: Agent, name?: string): Promise<string> => addPasskeyWith(authenticator, agent, name);

  async function signInOptions(agent: Agent): Promise<{ challenge: string }> {
    const res = await json(agent, '/sign-in/passkey/options', {});
    expect(res.status).toBe(200);
    return res.body as { challenge: string };
  }

  describe('POST /account/passkeys/options', () => {
    it('answers registration options for this site, naming the user and excluding their passkeys', async () => {
      const agent = await signIn(ctx.app, 'admin@a.test');
      const existing = await addPasskey(agent, 'First');
      const res = await json(agent, '/account/passkeys/options', { name: 'Second' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        rp: { id: '127.0.0.1', name: 'API console' },
        user: { name: 'admin@a.test' },
        authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
        excludeCredentials: [{ id: existing, type: 'public-key' }],
      });
      expect((res.body as { challenge: string }).challenge).toMatch(/^[A-Za-z0-9_-]{32,}$/);
    });

    it.each([
      ['', 'Give the passkey a name, such as "Work laptop".'],
      ['   ', 'Give the passkey a name, such as "Work laptop".'],
      ['x'.repeat(61), 'A passkey name can have at most 60 characters (this one has 61).'],
      ['Tab\there', 'A passkey name cannot contain control characters (tabs, line breaks and the like).'],
    ])('refuses the name %j with a specific message', async (name, message) => {
      const agent = await signIn(ctx.app, 'admin@a.test');
      const res = await json(agent, '/account/passkeys/options', { name });
      expect(res.status).toBe(422);
      expect(res.body).toEqual(refusal({ name: message }));
    });

    it('refuses a name the user already gave another passkey (any case)', async () => {
      const agent = await signIn(ctx.app, 'admin@a.test');
      await addPasskey(agent, 'Work laptop');
      const res = await json(agent, '/account/passkeys/options', { name: 'work LAPTOP' });
      expect(res.status).toBe(422);
      expect(res.body).toEqual(refusal({ name: 'You already have a passkey named "work LAPTOP". Choose another name.' }));
    });
  });

  describe('POST /account/passkeys', () => {
    it('stores the passkey, lists it, audits the addition and mails the user', async () => {
      const agent = await signIn(ctx.app, 'admin@a.test');
      const credentialId = await addPasskey(agent, 'Work laptop');
      const rows = await ctx.query<{
        user_id: number;
        credential_id: string;
        name: string;
        counter: number;
        transports: string;
        created_at: number;
        last_used_at: number | null;
      }>('SELECT user_id, credential_id, name, counter, transports, created_at, last_used_at FROM passkeys');
      expect(rows).toEqual([
        {
          user_id: admin.userId,
          credential_id: credentialId,
          name: 'Work laptop',
          counter: 0,
          transports: '["internal"]',
          created_at: ctx.clock.now(),
          last_used_at: null,
        },
      ]);
      expect(await ctx.value('SELECT length(public_key) FROM passkeys')).toBeGreaterThan(60);
      const page = await agent.get('/account/passkeys');
      expect(page.text).toContain('Passkey &quot;Work laptop&quot; added. You can sign in with it from now on.');
      expect(page.text).toContain('<td>Work laptop</td>');
      expect(page.text).toContain('You have 1 passkey.');
      const audit = await ctx.query<{ action: string; target: string; details: string }>(
        "SELECT action, target, details FROM audit_log WHERE action = 'passkey.add'",
      );
      expect(audit).toHaveLength(1);
      expect(audit[0].target).toBe('admin@a.test');
      expect(JSON.parse(audit[0].details)).toMatchObject({ name: 'Work laptop' });
      const mail = await ctx.query<{ to_address: string; kind: string; subject: string; body_text: string; body_html: string }>(
        "SELECT * FROM outbox WHERE kind = 'passkey_added'",
      );
      expect(mail).toHaveLength(1);
      expect(mail[0]).toMatchObject({ kind: 'passkey_added', subject: 'A passkey was added to your API console account' });
      expect(JSON.stringify(mail[0])).toContain('admin@a.test');
      expect(JSON.stringify(mail[0])).toContain('http://127.0.0.1:3000/account/passkeys');
      expect(await hasPasskeys({ db: ctx.database }, admin.userId)).toBe(true);
    });

    it('refuses a challenge used twice', async () => {
      const agent = await signIn(ctx.app, 'admin@a.test');
      const options = await json(agent, '/account/passkeys/options', { name: 'Once' });
      const response = authenticator.register(options.body as { challenge: string });
      expect((await json(agent, '/account/passkeys', { name: 'Once', response })).status).toBe(200);
      const again = await json(agent, '/account/passkeys', { name: 'Twice', response: authenticator.register(options.body as { challenge: string }) });
      expect(again.status).toBe(400);
      expect(again.body).toEqual(refusal({ _form: 'This passkey request has expired or was already used. Try again.' }));
      expect(await ctx.value('SELECT count(*) FROM passkeys')).toBe(1);
    });

    it('refuses an expired challenge (after 5 minutes), and consumes it', async () => {
      const agent = await signIn(ctx.app, 'admin@a.test');
      const options = await json(agent, '/account/passkeys/options', { name: 'Late' });
      ctx.clock.advance(5 * MINUTE);
      const res = await json(agent, '/account/passkeys', { name: 'Late', response: authenticator.register(options.body as { challenge: string }) });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(refusal({ _form: 'This passkey request has expired or was already used. Try again.' }));
      expect(await ctx.value('SELECT count(*) FROM passkeys')).toBe(0);
    });

    it('refuses an answer made for another origin', async () => {
      const agent = await signIn(ctx.app, 'admin@a.test');
      const options = await json(agent, '/account/passkeys/options', { name: 'Phished' });
      const response = authenticator.register(options.body as { challenge: string }, { origin: 'https://evil.example' });
      const res = await json(agent, '/account/passkeys', { name: 'Phished', response });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(refusal({ _form: 'Your passkey could not be verified. Try again.' }));
      expect(await ctx.value('SELECT count(*) FROM passkeys')).toBe(0);
    });

    it('refuses an answer that is not a passkey answer, naming the field', async () => {
      const agent = await signIn(ctx.app, 'admin@a.test');
      await json(agent, '/account/passkeys/options', { name: 'Broken' });
      const res = await json(agent, '/account/passkeys', { name: 'Broken', response: 'nonsense' });
      expect(res.status).toBe(422);
      expect(res.body).toEqual(refusal({ response: 'The browser did not send a passkey answer. Try again.' }));
    });

    it('without script (a plain form post) re-renders the page saying passkeys need JavaScript', async () => {
      const agent = await signIn(ctx.app, 'admin@a.test');
      const res = await agent.post('/account/passkeys').type('form').send({ _csrf: agent.csrf, name: 'No script' });
      expect(res.status).toBe(422);
      expect(res.text).toContain('Adding a passkey needs JavaScript');
      expect(res.text).toContain('value="No script"');
      const bad = await agent.post('/account/passkeys').type('form').send({ _csrf: agent.csrf, name: '' });
      expect(bad.status).toBe(422);
      expect(bad.text).toContain('Give the passkey a name, such as &quot;Work laptop&quot;.');
    });
  });

  describe('GET /account/passkeys', () => {
    it('says that passkeys need JavaScript (until the script hides it), and hides the add form until the script shows it', async () => {
      const agent = await signIn(ctx.app, 'admin@a.test');
      const res = await agent.get('/account/passkeys');
      expect(res.status).toBe(200);
      expect(res.text).toMatch(/<p class="hint" data-passkey-no-script>Passkeys need JavaScript/);
      expect(res.text).toMatch(/<form method="post" action="\/account\/passkeys" data-passkey-register data-passkey-only hidden/);
      expect(res.text).toContain('<script src="/js/passkeys.js" defer></script>');
      expect(res.text).toContain('You have no passkeys yet.');
    });
  });

  describe('POST /account/passkeys/:id/rename', () => {
    it('renames the passkey and audits it; without htmx post/redirect/get, with htmx the refreshed list', async () => {
      const agent = await signIn(ctx.app, 'admin@a.test');
      await addPasskey(agent, 'Laptop');
      const id = await ctx.value<number>('SELECT id FROM passkeys');
      const res = await agent.post(`/account/passkeys/${id}/rename`).type('form').send({ _csrf: agent.csrf, name: '  Work laptop  ' });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/account/passkeys');
      expect(await ctx.value('SELECT name FROM passkeys')).toBe('Work laptop');
      expect((await agent.get('/account/passkeys')).text).toContain('Passkey renamed to &quot;Work laptop&quot;.');
      const htmx = await agent.post(`/account/passkeys/${id}/rename`).set('HX-Request', 'true').type('form').send({ _csrf: agent.csrf, name: 'WORK laptop' });
      expect(htmx.status).toBe(200);
      expect(htmx.text.trim()).toMatch(/^<section class="card" id="passkey-list">/);
      expect(htmx.text).toContain('Passkey renamed to &quot;WORK laptop&quot;.');
      const audit = await ctx.query<{ details: string }>("SELECT details FROM audit_log WHERE action = 'passkey.rename' ORDER BY id");
      expect(audit.map((a) => JSON.parse(a.details) as unknown)).toEqual([
        { passkeyId: id, from: 'Laptop', to: 'Work laptop' },
        { passkeyId: id, from: 'Work laptop', to: 'WORK laptop' },
      ]);
    });

    it('re-renders the list with the rename open, what was typed, and a specific error', async () => {
      const agent = await signIn(ctx.app, 'admin@a.test');
      await addPasskey(agent, 'Laptop');
      await addPasskey(agent, 'Phone');
      const id = await ctx.value<number>("SELECT id FROM passkeys WHERE name = 'Laptop'");
      const taken = await agent.post(`/account/passkeys/${id}/rename`).type('form').send({ _csrf: agent.csrf, name: 'phone' });
      expect(taken.status).toBe(422);
      expect(taken.text).toContain('You already have a passkey named &quot;phone&quot;. Choose another name.');
      expect(taken.text).toMatch(new RegExp(`<details class="rename" open>[\\s\\S]*id="rename-${id}" name="name" value="phone"`));
      const long = await agent
        .post(`/account/passkeys/${id}/rename`)
        .set('HX-Request', 'true')
        .type('form')
        .send({ _csrf: agent.csrf, name: 'y'.repeat(70) });
      expect(long.status).toBe(422);
      expect(long.text).toContain('A passkey name can have at most 60 characters (this one has 70).');
      expect(await ctx.column('SELECT name FROM passkeys ORDER BY id')).toEqual(['Laptop', 'Phone']);
    });

    it("cannot rename another user's passkey (404, unchanged)", async () => {
      const owner = await signIn(ctx.app, 'admin@a.test');
      await addPasskey(owner, 'Mine');
      const id = await ctx.value<number>('SELECT id FROM passkeys');
      await seedUser(ctx, admin.companyId, 'colleague@a.test');
      const other = await signIn(ctx.app, 'colleague@a.test');
      const res = await other.post(`/account/passkeys/${id}/rename`).type('form').send({ _csrf: other.csrf, name: 'Hijacked' });
      expect(res.status).toBe(404);
      // Not even the name is judged: a bad one is 404 too, so nothing tells the passkey exists.
      expect((await other.post(`/account/passkeys/${id}/rename`).type('form').send({ _csrf: other.csrf, name: '' })).status).toBe(404);
      expect(await ctx.value('SELECT name FROM passkeys')).toBe('Mine');
    });
  });

  describe('POST /account/passkeys/:id/delete', () => {
    it('removes the passkey, audits and mails it; then it no longer signs in', async () => {
      const agent = await signIn(ctx.app, 'admin@a.test');
      const credentialId = await addPasskey(agent, 'Old key');
      const id = await ctx.value<number>('SELECT id FROM passkeys');
      const res = await agent.post(`/account/passkeys/${id}/delete`).type('form').send({ _csrf: agent.csrf });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/account/passkeys');
      expect(await ctx.value('SELECT count(*) FROM passkeys')).toBe(0);
      expect(await ctx.value("SELECT count(*) FROM audit_log WHERE action = 'passkey.remove'")).toBe(1);
      expect(await ctx.value("SELECT subject FROM outbox WHERE kind = 'passkey_removed'")).toBe('A passkey was removed from your API console account');

      const stranger = await anonymousAgent(ctx.app);
      const options = await signInOptions(stranger);
      const attempt = await json(stranger, '/sign-in/passkey', { response: authenticator.assert(credentialId, options) });
      expect(attempt.status).toBe(401);
    });

    it('answers htmx with the refreshed list and the message', async () => {
      const agent = await signIn(ctx.app, 'admin@a.test');
      await addPasskey(agent, 'Old key');
      const id = await ctx.value<number>('SELECT id FROM passkeys');
      const res = await agent.post(`/account/passkeys/${id}/delete`).set('HX-Request', 'true').type('form').send({ _csrf: agent.csrf });
      expect(res.status).toBe(200);
      expect(res.headers.vary).toContain('HX-Request');
      expect(res.text.trim()).toMatch(/^<section class="card" id="passkey-list">/);
      expect(res.text).toContain('Passkey &quot;Old key&quot; removed. It no longer signs you in.');
      expect(res.text).toContain('You have no passkeys yet.');
    });

    it("cannot remove another user's passkey (404, it stays)", async () => {
      const owner = await signIn(ctx.app, 'admin@a.test');
      await addPasskey(owner, 'Mine');
      const id = await ctx.value<number>('SELECT id FROM passkeys');
      await seedCompany(ctx, 'Company B', 'admin@b.test');
      await seedUser(ctx, admin.companyId, 'colleague@a.test');
      for (const email of ['admin@b.test', 'colleague@a.test']) {
        const other = await signIn(ctx.app, email);
        const res = await other.post(`/account/passkeys/${id}/delete`).type('form').send({ _csrf: other.csrf });
        expect(res.status).toBe(404);
      }
      expect(await ctx.value('SELECT count(*) FROM passkeys')).toBe(1);
      expect(await ctx.value("SELECT count(*) FROM audit_log WHERE action = 'passkey.remove'")).toBe(0);
    });
  });

  describe('signing in with a passkey', () => {
    it('answers options for any passkey of this site, with a challenge', async () => {
      const agent = await anonymousAgent(ctx.app);
      const res = await json(agent, '/sign-in/passkey/options', {});
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ rpId: '127.0.0.1', userVerification: 'required' });
      expect(res.body).not.toHaveProperty('allowCredentials'); // discoverable passkeys: the browser offers what it holds
      expect((res.body as { challenge: string }).challenge).toMatch(/^[A-Za-z0-9_-]{32,}$/);
    });

    it('signs in: a new session (new id), checkedAt set, the sign-in audited with its method', async () => {
      const owner = await signIn(ctx.app, 'admin@a.test');
      const credentialId = await addPasskey(owner);
      ctx.clock.advance(MINUTE);
      const agent = await anonymousAgent(ctx.app);
      const options = await signInOptions(agent);
      const before = (await ctx.column<string>('SELECT sid FROM sessions')).sort();
      const res = await json(agent, '/sign-in/passkey', { response: authenticator.assert(credentialId, options), next: '/audit' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ redirect: '/audit' });
      const after = await ctx.column<string>('SELECT sid FROM sessions');
      const fresh = after.filter((sid) => !before.includes(sid));
      expect(fresh).toHaveLength(1); // the pre-sign-in session (holding the challenge) did not become the signed-in one
      const data = JSON.parse(String(await ctx.value('SELECT data FROM sessions WHERE sid = ?', fresh[0]))) as Record<string, unknown>;
      expect(data).toMatchObject({ userId: admin.userId, signedInAt: ctx.clock.now(), checkedAt: ctx.clock.now() });
      expect(data.passkeyChallenge).toBeUndefined();
      const page = await agent.get('/account/passkeys');
      expect(page.status).toBe(200);
      expect(page.text).toContain('admin@a.test');
      expect(await ctx.value('SELECT last_used_at FROM passkeys')).toBe(ctx.clock.now());
      expect(await ctx.value('SELECT counter FROM passkeys')).toBe(1);
      const audit = await ctx.query<{ details: string }>("SELECT details FROM audit_log WHERE action = 'auth.sign_in' ORDER BY id DESC");
      expect(JSON.parse(audit[0].details)).toEqual({ method: 'passkey' });
      expect(await ctx.value('SELECT last_sign_in_at FROM users WHERE id = ?', admin.userId)).toBe(ctx.clock.now());
      // The session's CSRF token is new: the page gives one, and it works for a form.
      expect(csrfFrom(page.text)).not.toBe(agent.csrf);
    });

    it('refuses a challenge used twice', async () => {
      const owner = await signIn(ctx.app, 'admin@a.test');
      const credentialId = await addPasskey(owner);
      const agent = await anonymousAgent(ctx.app);
      const options = await signInOptions(agent);
      const first = await json(agent, '/sign-in/passkey', { response: authenticator.assert(credentialId, { challenge: 'not-the-challenge' }) });
      expect(first.status).toBe(401);
      const second = await json(agent, '/sign-in/passkey', { response: authenticator.assert(credentialId, options) });
      expect(second.status).toBe(400);
      expect(second.body).toEqual(refusal({ _form: 'This passkey request has expired or was already used. Try again.' }));
    });

    it('refuses an expired challenge', async () => {
      const owner = await signIn(ctx.app, 'admin@a.test');
      const credentialId = await addPasskey(owner);
      const agent = await anonymousAgent(ctx.app);
      const options = await signInOptions(agent);
      ctx.clock.advance(5 * MINUTE + 1);
      const res = await json(agent, '/sign-in/passkey', { response: authenticator.assert(credentialId, options) });
      expect(res.status).toBe(400);
      expect(res.body).toEqual(refusal({ _form: 'This passkey request has expired or was already used. Try again.' }));
      expect((await agent.get('/account/passkeys')).status).toBe(303);
    });

    it('refuses an assertion made for another origin, and audits the failure', async () => {
      const owner = await signIn(ctx.app, 'admin@a.test');
      const credentialId = await addPasskey(owner);
      const agent = await anonymousAgent(ctx.app);
      const options = await signInOptions(agent);
      const res = await json(agent, '/sign-in/passkey', { response: authenticator.assert(credentialId, options, { origin: 'https://evil.example' }) });
      expect(res.status).toBe(401);
      expect(res.body).toEqual(
        refusal({ _form: 'That passkey did not sign you in. It may have been removed, or the account is not active. Sign in with your email and password.' }),
      );
      expect(await ctx.value("SELECT count(*) FROM audit_log WHERE action = 'auth.sign_in_failed' AND target = 'passkey'")).toBe(1);
      expect((await agent.get('/account/passkeys')).status).toBe(303);
    });

    it('refuses a signature counter that did not move on (a cloned authenticator)', async () => {
      const owner = await signIn(ctx.app, 'admin@a.test');
      const credentialId = await addPasskey(owner);
      const first = await anonymousAgent(ctx.app);
      expect((await json(first, '/sign-in/passkey', { response: authenticator.assert(credentialId, await signInOptions(first), { counter: 5 }) })).status).toBe(
        200,
      );
      const clone = await anonymousAgent(ctx.app);
      const res = await json(clone, '/sign-in/passkey', { response: authenticator.assert(credentialId, await signInOptions(clone), { counter: 5 }) });
      expect(res.status).toBe(401);
      expect(await ctx.value('SELECT counter FROM passkeys')).toBe(5);
    });

    it('refuses a disabled user, as the password sign-in does', async () => {
      const owner = await signIn(ctx.app, 'admin@a.test');
      const credentialId = await addPasskey(owner);
      await ctx.query('UPDATE users SET disabled_at = ? WHERE id = ?', ctx.clock.now(), admin.userId);
      const agent = await anonymousAgent(ctx.app);
      const options = await signInOptions(agent);
      const res = await json(agent, '/sign-in/passkey', { response: authenticator.assert(credentialId, options) });
      expect(res.status).toBe(401);
      expect((await agent.get('/account/passkeys')).status).toBe(303);
    });

    it('without script (a plain form post) says signing in with a passkey needs JavaScript', async () => {
      const agent = await anonymousAgent(ctx.app);
      const res = await agent.post('/sign-in/passkey').type('form').send({ _csrf: agent.csrf });
      expect(res.status).toBe(422);
      expect(res.text).toContain('Signing in with a passkey needs JavaScript.');
    });

    it('shows "Sign in with a passkey" on the sign-in page, hidden until the script runs, with a sentence for browsers without script', async () => {
      const res = await (await anonymousAgent(ctx.app)).get('/sign-in');
      expect(res.text).toMatch(
        /<button type="button" class="secondary" data-passkey-sign-in data-passkey-only data-options-url="\/sign-in\/passkey\/options" data-answer-url="\/sign-in\/passkey" data-next="" hidden>Sign in with a passkey<\/button>/,
      );
      expect(res.text).toContain('<p class="hint" data-passkey-no-script>Signing in with a passkey needs JavaScript.');
    });
  });

  describe('verifyPasskeyAssertion (the second step after a password)', () => {
    it("accepts the user's own passkey for the expected challenge, and refuses another user's", async () => {
      const owner = await signIn(ctx.app, 'admin@a.test');
      const credentialId = await addPasskey(owner);
      const colleague = await seedUser(ctx, admin.companyId, 'colleague@a.test');
      const deps = {
        db: ctx.database,
        clock: ctx.clock,
        audit: new AuditLog(ctx.database, ctx.clock),
        mailer: { send: () => Promise.resolve(0) },
        publicUrl: ORIGIN,
      };
      const options = await authenticationOptions(deps, admin.userId);
      expect(options.allowCredentials).toEqual([{ id: credentialId, type: 'public-key', transports: ['internal'] }]);
      expect(await verifyPasskeyAssertion(deps, colleague.userId, authenticator.assert(credentialId, options), options.challenge)).toBe(false);
      expect(await verifyPasskeyAssertion(deps, admin.userId, authenticator.assert(credentialId, options), 'another-challenge')).toBe(false);
      expect(await verifyPasskeyAssertion(deps, admin.userId, authenticator.assert(credentialId, options), options.challenge)).toBe(true);
    });
  });
});
