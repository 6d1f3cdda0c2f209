import request from 'supertest';
import { MINUTE } from '../src/clock';
import { CLIENT_ID_PREFIX, CLIENT_SECRET_PREFIX, isWellFormed } from '../src/features/credentials/secrets';
import { createTestContext, seedCompany, signIn, recheckSessions } from './helpers';
import type { Agent, TestContext } from './helpers';
import { clientWorks, fieldValue, generateClient, htmx, leaks, saveCredential } from './credentials-helpers';

const ALL_SCOPES = 'claims:read claims:write documents:read documents:write';

describe('the API page: OAuth 2.0 client credentials', () => {
  let ctx: TestContext;
  let agent: Agent;
  let companyId: number;

  beforeEach(async () => {
    ctx = createTestContext();
    ({ companyId } = await seedCompany(ctx, 'Acme', 'admin@acme.test'));
    agent = await signIn(ctx.app, 'admin@acme.test');
  });
  afterEach(() => ctx.close());

  describe('POST /admin/api/oauth/generate', () => {
    it('without script: the full page with the five fields, each with a copy button, never cached', async () => {
      const res = await agent
        .post('/admin/api/oauth/generate')
        .type('form')
        .send({ _csrf: agent.csrf, scopes: ALL_SCOPES.split(' ') });
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers.vary).toContain('HX-Request');
      expect(res.text).toContain('<h1>API</h1>');
      expect(res.text).toContain('<details class="area" id="oauth" open>');
      expect(fieldValue(res.text, 'oauth-grant-type')).toBe('client_credentials');
      expect(fieldValue(res.text, 'oauth-scopes')).toBe(ALL_SCOPES);
      expect(fieldValue(res.text, 'oauth-token-url')).toBe('http://127.0.0.1:3000/oauth/token');
      expect(isWellFormed(fieldValue(res.text, 'oauth-client-id')!, CLIENT_ID_PREFIX)).toBe(true);
      expect(isWellFormed(fieldValue(res.text, 'oauth-client-secret')!, CLIENT_SECRET_PREFIX)).toBe(true);
      for (const [id, label] of [
        ['oauth-grant-type', 'Grant type'],
        ['oauth-scopes', 'Scopes'],
        ['oauth-token-url', 'Token URL'],
        ['oauth-client-id', 'Client ID'],
        ['oauth-client-secret', 'Client secret'],
      ]) {
        expect(res.text).toContain(`<label for="${id}">${label}</label>`);
        expect(res.text).toContain(`data-copy="#${id}" aria-label="Copy ${label}">Copy</button>`);
        expect(res.text).toMatch(new RegExp(`<input id="${id}" type="text" readonly value="[^"]+" data-select-on-focus`));
      }
      expect(res.text).toContain('This cannot be retrieved after you save it and navigate away from the API page.');
      expect(res.text).toContain('<section class="generated" aria-labelledby="oauth-generated-title" hx-history="false">');
    });

    it('shows the Token URL the server metadata names as token_endpoint', async () => {
      const { res } = await generateClient(agent);
      const metadata = await request(ctx.app).get('/.well-known/oauth-authorization-server');
      expect(metadata.status).toBe(200);
      expect(fieldValue(res.text, 'oauth-token-url')).toBe((metadata.body as { token_endpoint: string }).token_endpoint);
    });

    it('with htmx: just the OAuth 2.0 area', async () => {
      const { res, secret } = await generateClient(agent, ['claims:read'], htmx);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.text).not.toContain('<html');
      expect(res.text.trim()).toMatch(/^<div class="area-body" id="oauth-area" hx-history="false">/);
      expect(fieldValue(res.text, 'oauth-scopes')).toBe('claims:read');
      expect(isWellFormed(secret, CLIENT_SECRET_PREFIX)).toBe(true);
    });

    it('offers every scope the company may grant, all ticked by default', async () => {
      await ctx.query("DELETE FROM company_scopes WHERE company_id = ? AND scope = 'documents:write'", companyId);
      const page = await agent.get('/admin/api');
      expect(page.text).toContain('<input type="checkbox" name="scopes" value="claims:read" checked> <code>claims:read</code> — Read claims and their status');
      expect(page.text).toContain('value="documents:read" checked');
      expect(page.text).not.toContain('value="documents:write"');
    });

    it('narrows to the ticked scopes', async () => {
      const { res } = await generateClient(agent, ['documents:read', 'claims:read']);
      expect(fieldValue(res.text, 'oauth-scopes')).toBe('claims:read documents:read');
    });

    it('asks for at least one scope, with and without htmx', async () => {
      for (const headers of [{}, htmx]) {
        const res = await agent.post('/admin/api/oauth/generate').set(headers).type('form').send({ _csrf: agent.csrf });
        expect(res.status).toBe(422);
        expect(res.text).toContain('Choose at least one scope.');
        expect(res.text).not.toContain('id="oauth-client-secret"');
        expect(res.text).not.toContain('value="claims:read" checked');
      }
    });

    it('refuses a scope the company may not grant', async () => {
      await ctx.query("DELETE FROM company_scopes WHERE company_id = ? AND scope = 'claims:write'", companyId);
      const res = await agent
        .post('/admin/api/oauth/generate')
        .type('form')
        .send({ _csrf: agent.csrf, scopes: ['claims:read', 'claims:write'] });
      expect(res.status).toBe(422);
      expect(res.text).toContain('Your company may not grant: claims:write.');
    });

    it('explains when the company may grant no scope at all', async () => {
      await ctx.query('DELETE FROM company_scopes WHERE company_id = ?', companyId);
      const page = await agent.get('/admin/api');
      expect(page.text).toContain('Your company may not grant any scope yet');
      expect(page.text).not.toContain('Generate Client Credentials</button>');
    });
  });

  describe('POST /admin/api/oauth/:id/save', () => {
    it('without script: saves; the Client ID stays visible, the secret never again', async () => {
      const { id, clientId, secret } = await generateClient(agent, ['claims:read']);
      expect(await clientWorks(ctx, clientId, secret)).toBe(false);
      const res = await saveCredential(agent, 'oauth', id);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/admin/api?area=oauth#oauth');
      expect(await clientWorks(ctx, clientId, secret)).toBe(true);
      const page = await agent.get(res.headers.location);
      expect(page.text).toContain('Client credentials saved. The Client ID stays visible here; the client secret is never shown again.');
      expect(page.text).toContain(`<td data-label="Client ID"><code>${clientId}</code></td>`);
      expect(page.text).toContain(`<td data-label="Client secret"><code>${secret.slice(0, 10)}…</code></td>`);
      expect(page.text).toContain('<td data-label="Scopes"><code>claims:read</code></td>');
      expect(page.text).toContain('<dt>Token URL</dt><dd><code>http://127.0.0.1:3000/oauth/token</code></dd>');
      expect(page.text).not.toContain(secret);
    });

    it('with htmx: the refreshed area', async () => {
      const { id, clientId, secret } = await generateClient(agent, undefined, htmx);
      const res = await saveCredential(agent, 'oauth', id, undefined, htmx);
      expect(res.status).toBe(200);
      expect(res.text).not.toContain('<html');
      expect(res.text.trim()).toMatch(/^<div class="area-body" id="oauth-area"/);
      expect(res.text).toContain(clientId);
      expect(res.text).not.toContain(secret);
    });

    it('rotation: without overlap the old client fails at once; with 24 hours it works until then', async () => {
      const first = await generateClient(agent);
      await saveCredential(agent, 'oauth', first.id);
      const second = await generateClient(agent);
      expect(second.clientId).not.toBe(first.clientId);
      await saveCredential(agent, 'oauth', second.id, 'none');
      expect(await clientWorks(ctx, first.clientId, first.secret)).toBe(false);
      expect(await clientWorks(ctx, second.clientId, second.secret)).toBe(true);

      const third = await generateClient(agent);
      await saveCredential(agent, 'oauth', third.id, '24h');
      ctx.clock.advance(24 * 60 * MINUTE - 1);
      await recheckSessions(ctx); // the person answered the password again (sudo mode)
      expect(await clientWorks(ctx, second.clientId, second.secret)).toBe(true);
      ctx.clock.advance(1);
      await recheckSessions(ctx); // the person answered the password again (sudo mode)
      expect(await clientWorks(ctx, second.clientId, second.secret)).toBe(false);
      expect(await clientWorks(ctx, third.clientId, third.secret)).toBe(true);
    });

    it('the save race: exactly one of two clients generated from the same state wins', async () => {
      const tabA = await generateClient(agent);
      const tabB = await generateClient(agent);
      const [a, b] = await Promise.all([saveCredential(agent, 'oauth', tabA.id, undefined, htmx), saveCredential(agent, 'oauth', tabB.id, undefined, htmx)]);
      expect([a.status, b.status].sort()).toEqual([200, 409]);
      const loser = a.status === 409 ? a : b;
      expect(loser.text).toContain('Another client secret was saved after this one was generated, so this one was not saved.');
      const works = [await clientWorks(ctx, tabA.clientId, tabA.secret), await clientWorks(ctx, tabB.clientId, tabB.secret)];
      expect(works.filter(Boolean)).toHaveLength(1);
    });

    it('an unsaved client older than 30 minutes cannot be saved', async () => {
      const { id, clientId, secret } = await generateClient(agent);
      ctx.clock.advance(31 * MINUTE);
      await recheckSessions(ctx); // the person answered the password again (sudo mode)
      const res = await saveCredential(agent, 'oauth', id);
      expect(res.status).toBe(410);
      expect(res.text).toContain('This client secret expired before it was saved; generate a new one.');
      expect(res.text).toContain('Generate Client Credentials</button>');
      expect(await clientWorks(ctx, clientId, secret)).toBe(false);
    });
  });

  it('leaves no trace of a generated-and-saved client secret in the database file, its WAL or the log', async () => {
    const { id, secret } = await generateClient(agent);
    expect((await saveCredential(agent, 'oauth', id)).status).toBe(303);
    await agent.get('/admin/api');
    const files = ctx.storedBytes();
    expect(files.length).toBe(ctx.engine === 'sqlite' ? 2 : 1); // the file and its WAL, or the dump
    expect(Buffer.concat(files).includes(Buffer.from(secret.slice(0, 10)))).toBe(true);
    expect(leaks(ctx, secret, files)).toEqual([]);
  });
});
