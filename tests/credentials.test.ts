import request from 'supertest';
import { API_KEY_PREFIX, isWellFormed } from '../src/features/credentials/secrets';
import { PENDING_TTL_MS } from '../src/features/credentials/service';
import { createTestContext, seedCompany, signIn, recheckSessions } from './helpers';
import type { Agent } from './helpers';
import { fieldValue, generateApiKey, htmx, leaks, saveCredential } from './credentials-helpers';

describe('the API page: Basic Auth', () => {
  const ctx = createTestContext();
  let agent: Agent;
  let other: Agent;
  afterAll(() => ctx.close());

  beforeAll(async () => {
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
    await seedCompany(ctx, 'Globex', 'admin@globex.test');
    agent = await signIn(ctx.app, 'admin@acme.test');
    other = await signIn(ctx.app, 'admin@globex.test');
  });

  describe('GET /admin/api', () => {
    it('sends a signed-out visitor to sign in', async () => {
      const res = await request(ctx.app).get('/admin/api');
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/sign-in?next=%2Fadmin%2Fapi');
    });

    it('shows the warning and the three expandable areas in the seed’s words', async () => {
      const res = await agent.get('/admin/api');
      expect(res.status).toBe(200);
      expect(res.headers.vary).toContain('HX-Request');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.text).toContain('<h1>API</h1>');
      expect(res.text).toContain(
        'Generating new API keys or client credentials interrupts pre-existing services until your developers update their API calls.',
      );
      expect(res.text).toContain('in close coordination with your company’s development team');
      expect(res.text).toMatch(/<details class="area" id="basic-auth">\s*<summary>Basic Auth<\/summary>/);
      expect(res.text).toMatch(/<details class="area" id="oauth">\s*<summary>OAuth 2.0<\/summary>/);
      expect(res.text).toMatch(/<details class="area" id="docs-access"[^>]*>\s*<summary>Request access to the OAuth 2.0 API documentation<\/summary>/);
      expect(res.text).toContain('<div class="api-page" hx-history="false">');
      expect(res.text).toContain('<label for="f-username">Username</label>');
      expect(res.text).toContain('Generate API Key</button>');
      expect(res.text).toContain('Generate Client Credentials</button>');
      expect(res.text).toContain('id="copy-status"');
      expect(res.text).toContain('<a href="/admin/api" aria-current="page">API</a>');
    });
  });

  describe('POST /admin/api/basic-auth/generate', () => {
    // These keys are never saved: they lapse between tests (both sessions kept alive), so no later test meets the cap on unsaved keys.
    afterEach(async () => {
      ctx.clock.advance(PENDING_TTL_MS);
      await recheckSessions(ctx); // the person answered the password again (sudo mode)
      await agent.get('/admin/api');
      await other.get('/admin/api');
    });

    it('without script: answers the full page with the new key, once, never cached', async () => {
      const res = await agent.post('/admin/api/basic-auth/generate').type('form').send({ _csrf: agent.csrf, username: 'acme-api' });
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers.vary).toContain('HX-Request');
      expect(res.text).toContain('<h1>API</h1>');
      expect(res.text).toContain('<details class="area" id="basic-auth" open>');
      const key = fieldValue(res.text, 'basic-key')!;
      expect(isWellFormed(key, API_KEY_PREFIX)).toBe(true);
      expect(fieldValue(res.text, 'basic-username')).toBe('acme-api');
      // A read-only field that selects itself on focus, and a copy button for when script runs.
      expect(res.text).toMatch(/<input id="basic-key" type="text" readonly value="cxk_[^"]+" data-select-on-focus/);
      expect(res.text).toContain('<button type="button" class="secondary" data-copy="#basic-key" aria-label="Copy API key">Copy</button>');
      expect(res.text).toContain('<section class="generated" aria-labelledby="basic-generated-title" hx-history="false">');
      expect(res.text).toMatch(/<button type="submit" class="primary">Save<\/button>/);
      // The secret is nowhere but in the body.
      expect(JSON.stringify(res.headers)).not.toContain(key);
    });

    it('with htmx: answers just the Basic Auth area with the key', async () => {
      const res = await agent.post('/admin/api/basic-auth/generate').set(htmx).type('form').send({ _csrf: agent.csrf, username: 'acme-api' });
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers.vary).toContain('HX-Request');
      expect(res.text).not.toContain('<html');
      expect(res.text.trim()).toMatch(/^<div class="area-body" id="basic-area" hx-history="false">/);
      expect(isWellFormed(fieldValue(res.text, 'basic-key')!, API_KEY_PREFIX)).toBe(true);
    });

    it('gives each generation a different key', async () => {
      const a = await generateApiKey(agent, 'acme-api');
      const b = await generateApiKey(agent, 'acme-api');
      expect(a.key).not.toBe(b.key);
      expect(a.id).not.toBe(b.id);
    });

    it('shows no secret on reload, with or without htmx', async () => {
      const { key } = await generateApiKey(agent, 'acme-api');
      const page = await agent.get('/admin/api');
      const fragment = await agent.get('/admin/api').set(htmx);
      for (const res of [page, fragment]) {
        expect(res.status).toBe(200);
        expect(res.text).not.toContain(key);
        expect(res.text).not.toContain(key.slice(10));
        expect(res.text).not.toContain('id="basic-key"');
      }
    });

    describe('rejects a bad username with a specific inline error', () => {
      const cases: [string, string, string][] = [
        ['an empty one', '', 'Enter a username.'],
        ['one with spaces', 'acme api', 'A username cannot contain spaces.'],
        ['one of 65 characters', 'a'.repeat(65), 'A username can have at most 64 characters (this one has 65).'],
        ['one of 2 characters', 'ab', 'A username needs at least 3 characters.'],
        ['one with other characters', 'acme/api@x', 'remove “/”, “@”.'],
        ['markup', '<script>alert(1)</script>', 'A username cannot contain markup such as “&lt;” or “&gt;”.'],
      ];
      it.each(cases)('%s', async (_name, username, message) => {
        const res = await agent.post('/admin/api/basic-auth/generate').type('form').send({ _csrf: agent.csrf, username });
        expect(res.status).toBe(422);
        expect(res.text).toContain('<h1>API</h1>');
        expect(res.text).toMatch(/<p class="error" id="f-username-error">[^<]*<\/p>/);
        expect(res.text).toContain(message);
        expect(res.text).toContain('aria-invalid="true"');
        // Without script nothing else moves focus: the re-rendered field takes it, so its error is read out.
        expect(res.text).toMatch(/<input id="f-username"[^>]*aria-invalid="true" autofocus/);
        expect(res.text).not.toContain('id="basic-key"');
      });

      it('escapes the markup it echoes back', async () => {
        const res = await agent
          .post('/admin/api/basic-auth/generate')
          .set(htmx)
          .type('form')
          .send({ _csrf: agent.csrf, username: '<script>alert(1)</script>' });
        expect(res.status).toBe(422);
        expect(res.text).not.toContain('<script>alert(1)');
        expect(res.text).toContain('value="&lt;script&gt;alert(1)&lt;/script&gt;"');
      });

      it('with htmx: answers the area with the error', async () => {
        const res = await agent.post('/admin/api/basic-auth/generate').set(htmx).type('form').send({ _csrf: agent.csrf, username: 'acme api' });
        expect(res.status).toBe(422);
        expect(res.text).not.toContain('<html');
        expect(res.text).toContain('<div class="area-body" id="basic-area" hx-history="false">');
        expect(res.text).toContain('A username cannot contain spaces.');
        expect(res.text).toContain('value="acme api"');
      });

      it('one another company already uses (in any case)', async () => {
        await generateApiKey(other, 'globex-api');
        for (const headers of [{}, htmx]) {
          const res = await agent.post('/admin/api/basic-auth/generate').set(headers).type('form').send({ _csrf: agent.csrf, username: 'Globex-API' });
          expect(res.status).toBe(422);
          expect(res.text).toContain('This username is already used by another company. Choose a different one.');
          expect(res.text).toContain('value="Globex-API"');
          expect(res.text).not.toContain('id="basic-key"');
        }
      });
    });

    it('refuses a form without the CSRF token', async () => {
      const res = await agent.post('/admin/api/basic-auth/generate').type('form').send({ username: 'acme-api' });
      expect(res.status).toBe(403);
      expect(res.text).not.toContain('cxk_');
    });
  });

  describe('POST /admin/api/basic-auth/:id/save', () => {
    it('without script: saves, redirects, and the page shows the key without its secret', async () => {
      const { id, key } = await generateApiKey(agent, 'acme-api');
      const res = await saveCredential(agent, 'basic-auth', id);
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/admin/api?area=basic#basic-auth');
      expect(res.headers.location).not.toContain(key);
      const page = await agent.get(res.headers.location);
      expect(page.status).toBe(200);
      expect(page.text).toContain('API key saved. It is now the active key for your company.');
      expect(page.text).toContain('<details class="area" id="basic-auth" open>');
      expect(page.text).toContain('<td data-label="Username"><code>acme-api</code></td>');
      expect(page.text).toContain(`<td data-label="API key"><code>${key.slice(0, 10)}…</code></td>`);
      expect(page.text).toContain('<span class="status status-active">Active</span>');
      expect(page.text).toContain('by admin@acme.test');
      expect(page.text).not.toContain(key);
      // The Generate form proposes the username in use for the next rotation.
      expect(page.text).toContain('name="username" type="text" value="acme-api"');
    });

    it('with htmx: answers the refreshed area, without the secret', async () => {
      const { id, key } = await generateApiKey(agent, 'acme-api', htmx);
      const res = await saveCredential(agent, 'basic-auth', id, undefined, htmx);
      expect(res.status).toBe(200);
      expect(res.headers.vary).toContain('HX-Request');
      expect(res.text).not.toContain('<html');
      expect(res.text).toContain('<div class="area-body" id="basic-area" hx-history="false">');
      expect(res.text).toContain('API key saved. It is now the active key for your company.');
      expect(res.text).toContain(`${key.slice(0, 10)}…`);
      expect(res.text).not.toContain(key);
    });

    it('says so when the key was already saved (a double click)', async () => {
      const { id } = await generateApiKey(agent, 'acme-api');
      expect((await saveCredential(agent, 'basic-auth', id)).status).toBe(303);
      const again = await saveCredential(agent, 'basic-auth', id, undefined, htmx);
      expect(again.status).toBe(200);
      expect(again.text).toContain('This key is already saved and active.');
    });

    it('rejects an overlap that is not offered', async () => {
      const { id } = await generateApiKey(agent, 'acme-api');
      const res = await saveCredential(agent, 'basic-auth', id, '30d');
      expect(res.status).toBe(400);
      expect(res.text).toContain('Choose how long the previous credential keeps working');
    });

    it('answers 404 for an id that does not exist or is not a number', async () => {
      expect((await saveCredential(agent, 'basic-auth', 999999)).status).toBe(404);
      const res = await agent.post('/admin/api/basic-auth/abc/save').type('form').send({ _csrf: agent.csrf });
      expect(res.status).toBe(400);
    });
  });

  it('leaves no trace of a generated-and-saved key in the database file, its WAL or the log', async () => {
    const { id, key } = await generateApiKey(agent, 'trace-check');
    expect((await saveCredential(agent, 'basic-auth', id)).status).toBe(303);
    await agent.get('/admin/api');
    const files = ctx.storedBytes();
    expect(files.length).toBe(ctx.engine === 'sqlite' ? 2 : 1); // the file and its WAL, or the dump
    // The scan does see what is stored (the public prefix), so it would see the secret too.
    expect(Buffer.concat(files).includes(Buffer.from(key.slice(0, 10)))).toBe(true);
    expect(leaks(ctx, key, files)).toEqual([]);
  });
});
