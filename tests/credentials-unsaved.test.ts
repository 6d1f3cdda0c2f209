import { MINUTE } from '../src/clock';
import { AuditLog } from '../src/features/audit/service';
import { MAX_UNSAVED_PER_KIND, sweepCredentials } from '../src/features/credentials/service';
import { createTestContext, seedCompany, signIn, recheckSessions } from './helpers';
import type { Agent, TestContext } from './helpers';
import { apiKeyWorks, fieldValue, generateApiKey, generateClient, htmx, saveCredential } from './credentials-helpers';

const TAKEN = 'This username is already used by another company. Choose a different one.';
const capMessage = (n: number) => `You have ${n} unsaved credentials; save or wait for them to expire (30 minutes) before generating another.`;

/** Unsaved generations: a username claim lapses with them, and a company may hold only a few at once. */
describe('unsaved generations', () => {
  let ctx: TestContext;
  let acme: Agent;
  let globex: Agent;
  let acmeId: number;

  beforeEach(async () => {
    ctx = createTestContext();
    acmeId = (await seedCompany(ctx, 'Acme', 'admin@acme.test')).companyId;
    await seedCompany(ctx, 'Globex', 'admin@globex.test');
    acme = await signIn(ctx.app, 'admin@acme.test');
    globex = await signIn(ctx.app, 'admin@globex.test');
  });
  afterEach(() => ctx.close());

  const generateAs = (agent: Agent, username: string, headers: Record<string, string> = {}) =>
    agent.post('/admin/api/basic-auth/generate').set(headers).type('form').send({ _csrf: agent.csrf, username });
  const sweep = () =>
    sweepCredentials({ db: ctx.database, clock: ctx.clock, audit: new AuditLog(ctx.database, ctx.clock), mailer: { send: () => Promise.resolve(0) } });
  const credentialCount = async (): Promise<number> => (await ctx.query<{ n: number }>('SELECT COUNT(*) AS n FROM credentials'))[0].n;
  const statusOf = async (id: number): Promise<string> => (await ctx.query<{ status: string }>('SELECT status FROM credentials WHERE id = ?', id))[0].status;

  describe('POST /admin/api/basic-auth/generate: the username claim', () => {
    it('holds a username for a company while its unsaved key may still be saved', async () => {
      await generateApiKey(acme, 'shared-name');
      ctx.clock.advance(29 * MINUTE);
      await recheckSessions(ctx); // the person answered the password again (sudo mode)
      const res = await generateAs(globex, 'shared-name');
      expect(res.status).toBe(422);
      expect(res.text).toContain(TAKEN);
    });

    it('lets another company take the username once the unsaved key expired (after the sweep)', async () => {
      const lapsed = await generateApiKey(acme, 'shared-name');
      ctx.clock.advance(31 * MINUTE);
      await recheckSessions(ctx); // the person answered the password again (sudo mode)
      expect((await sweep()).expired).toBe(1);
      expect(await statusOf(lapsed.id)).toBe('expired');

      const taken = await generateApiKey(globex, 'shared-name');
      expect((await saveCredential(globex, 'basic-auth', taken.id)).status).toBe(303);
      expect(await apiKeyWorks(ctx, 'shared-name', taken.key)).toBe(true);

      // Now Globex holds it, for good: a saved key keeps its username with its company.
      const back = await generateAs(acme, 'Shared-Name');
      expect(back.status).toBe(422);
      expect(back.text).toContain(TAKEN);
      const late = await saveCredential(acme, 'basic-auth', lapsed.id);
      expect(late.status).toBe(409);
      expect(late.text).toContain('This key can no longer be saved (it is expired); generate a new one.');
    });

    it('sees the lapse itself when no sweep ran yet', async () => {
      const lapsed = await generateApiKey(acme, 'shared-name');
      ctx.clock.advance(31 * MINUTE);
      await recheckSessions(ctx); // the person answered the password again (sudo mode)
      expect(await statusOf(lapsed.id)).toBe('pending'); // the sweep has not marked it

      const res = await generateAs(globex, 'shared-name', htmx);
      expect(res.status).toBe(200);
      expect(fieldValue(res.text, 'basic-username')).toBe('shared-name');
      const [claim] = await ctx.query<{ company_id: number }>("SELECT company_id FROM api_usernames WHERE username = 'shared-name'");
      expect(claim?.company_id).not.toBe(acmeId);
    });

    it('keeps the username with the company while the newest of its unsaved keys may still be saved', async () => {
      await generateApiKey(acme, 'shared-name');
      ctx.clock.advance(20 * MINUTE);
      await recheckSessions(ctx); // the person answered the password again (sudo mode)
      await generateApiKey(acme, 'shared-name');
      ctx.clock.advance(11 * MINUTE); // the first lapsed, the second has 19 minutes left
      await recheckSessions(ctx); // the person answered the password again (sudo mode)
      await sweep();
      expect((await generateAs(globex, 'shared-name')).status).toBe(422);
      ctx.clock.advance(20 * MINUTE);
      await recheckSessions(ctx); // the person answered the password again (sudo mode)
      await sweep();
      expect((await generateAs(globex, 'shared-name')).status).toBe(200);
    });

    it('keeps the username with a company that saved a key under it, also after revoking it', async () => {
      const saved = await generateApiKey(acme, 'kept-name');
      expect((await saveCredential(acme, 'basic-auth', saved.id)).status).toBe(303);
      const revoke = await acme.post(`/admin/api/credentials/${saved.id}/revoke`).type('form').send({ _csrf: acme.csrf, reason: 'Leaked in a log' });
      expect(revoke.status).toBe(303);
      ctx.clock.advance(31 * MINUTE);
      await recheckSessions(ctx); // the person answered the password again (sudo mode)
      await sweep();
      const res = await generateAs(globex, 'kept-name');
      expect(res.status).toBe(422);
      expect(res.text).toContain(TAKEN);
    });
  });

  describe('the cap on unsaved generations', () => {
    it(`refuses key number ${MAX_UNSAVED_PER_KIND + 1} without script with a clear message, and generates nothing`, async () => {
      for (let i = 0; i < MAX_UNSAVED_PER_KIND; i++) await generateApiKey(acme, 'acme-api');
      const res = await generateAs(acme, 'acme-api');
      expect(res.status).toBe(429);
      expect(Number(res.headers['retry-after'])).toBe(30 * 60);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.text).toContain('<h1>API</h1>');
      expect(res.text).toContain('<details class="area" id="basic-auth" open>');
      expect(res.text).toContain(`<p class="flash flash-error" role="alert">${capMessage(MAX_UNSAVED_PER_KIND)}</p>`);
      expect(res.text).toContain('name="username" type="text" value="acme-api"');
      expect(res.text).not.toContain('id="basic-key"');
      expect(await credentialCount()).toBe(MAX_UNSAVED_PER_KIND);
    });

    it('with htmx: answers the Basic Auth area with the message', async () => {
      for (let i = 0; i < MAX_UNSAVED_PER_KIND; i++) await generateApiKey(acme, 'acme-api', htmx);
      const res = await generateAs(acme, 'acme-api', htmx);
      expect(res.status).toBe(429);
      expect(res.text).not.toContain('<html');
      expect(res.text.trim()).toMatch(/^<div class="area-body" id="basic-area" hx-history="false">/);
      expect(res.text).toContain(capMessage(MAX_UNSAVED_PER_KIND));
      expect(res.text).not.toContain('id="basic-key"');
      expect(await credentialCount()).toBe(MAX_UNSAVED_PER_KIND);
    });

    it('refuses client credentials the same way, with and without htmx', async () => {
      for (let i = 0; i < MAX_UNSAVED_PER_KIND; i++) await generateClient(acme);
      for (const headers of [{}, htmx]) {
        const res = await acme
          .post('/admin/api/oauth/generate')
          .set(headers)
          .type('form')
          .send({ _csrf: acme.csrf, scopes: ['claims:read'] });
        expect(res.status).toBe(429);
        expect(res.text).toContain(capMessage(MAX_UNSAVED_PER_KIND));
        expect(res.text).not.toContain('id="oauth-client-secret"');
        // The ticked scopes stay as they were sent.
        expect(res.text).toContain('value="claims:read" checked');
        expect(res.text).toContain('value="claims:write">');
      }
      expect(await credentialCount()).toBe(MAX_UNSAVED_PER_KIND);
    });

    it('counts each kind, and each company, on its own', async () => {
      for (let i = 0; i < MAX_UNSAVED_PER_KIND; i++) await generateApiKey(acme, 'acme-api');
      await generateClient(acme);
      await generateApiKey(globex, 'globex-api');
      expect((await generateAs(acme, 'acme-api')).status).toBe(429);
    });

    it('frees a place when one is saved', async () => {
      const keys = [];
      for (let i = 0; i < MAX_UNSAVED_PER_KIND; i++) keys.push(await generateApiKey(acme, 'acme-api'));
      expect((await saveCredential(acme, 'basic-auth', keys[0].id)).status).toBe(303);
      expect((await generateAs(acme, 'acme-api')).status).toBe(200);
      expect((await generateAs(acme, 'acme-api')).status).toBe(429);
    });

    it('frees the places when they expire after 30 minutes, and says how long to wait until then', async () => {
      await generateApiKey(acme, 'acme-api');
      ctx.clock.advance(10 * MINUTE);
      await recheckSessions(ctx); // the person answered the password again (sudo mode)
      for (let i = 1; i < MAX_UNSAVED_PER_KIND; i++) await generateApiKey(acme, 'acme-api');
      const refused = await generateAs(acme, 'acme-api');
      expect(refused.status).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBe(20 * 60); // the oldest lapses first
      ctx.clock.advance(20 * MINUTE);
      await recheckSessions(ctx); // the person answered the password again (sudo mode)
      expect((await generateAs(acme, 'acme-api')).status).toBe(200);
    });
  });
});
