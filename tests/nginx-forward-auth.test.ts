import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { createTestContext, mistyped, seedCompany } from './helpers';
import type { SeededUser } from './helpers';
import { createApiKey, createClient, obtainToken, revoke } from './oauth-support';
import type { TestApiKey, TestClient } from './oauth-support';
import { startDocumentedNginx } from './support/nginx';
import type { DocumentedProxy } from './support/nginx';

interface Seen {
  method: string;
  url: string;
  auth: Record<string, string | undefined>;
}

const basic = (username: string, key: string) => `Basic ${Buffer.from(`${username}:${key}`).toString('base64')}`;

describe('/auth/verify behind a real nginx (auth_request)', () => {
  const ctx = createTestContext({ TRUST_PROXY: 'loopback' });
  let acme: SeededUser;
  let apiKey: TestApiKey;
  let client: TestClient;
  const seen: Seen[] = [];
  let proxy: DocumentedProxy | undefined;
  let base: string;
  let dir: string;

  beforeAll(async () => {
    acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    apiKey = await createApiKey(ctx, acme.companyId, 'acme-proxy');
    client = await createClient(ctx, acme.companyId, ['claims:read', 'claims:write']);
    // The tiny upstream API: says what it received, including the X-Auth-* headers.
    const api = (req: IncomingMessage, res: ServerResponse) => {
      const auth = Object.fromEntries(Object.entries(req.headers).filter(([name]) => name.startsWith('x-auth-'))) as Record<string, string>;
      seen.push({ method: req.method!, url: req.url!, auth });
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ upstream: true, method: req.method, url: req.url, auth }));
    };
    proxy = await startDocumentedNginx(ctx.app, api, 'nginx-test-');
    ({ base, dir } = proxy);
  }, 30_000);

  afterAll(async () => {
    await proxy?.stop();
    await ctx.close();
  });

  beforeEach(() => {
    seen.length = 0;
  });

  it('lets a Basic Auth caller through, with who it is in X-Auth-* headers', async () => {
    const res = await fetch(`${base}/claims/42?full=1`, { headers: { authorization: basic(apiKey.username, apiKey.key) } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      upstream: true,
      method: 'GET',
      url: '/claims/42?full=1',
      auth: {
        'x-auth-company': String(acme.companyId),
        'x-auth-credential': String(apiKey.credentialId),
        'x-auth-credential-kind': 'basic',
        'x-auth-identifier': 'acme-proxy',
        'x-auth-scopes': 'claims:read claims:write documents:read documents:write',
      },
    });
    expect(res.headers.get('www-authenticate')).toBeNull();
  });

  it('lets a Bearer caller through with the token’s scopes, also for POST', async () => {
    const token = await obtainToken(ctx.app, client, 'claims:read');
    const res = await fetch(`${base}/documents/7`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: 'hello' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { method: string; auth: Record<string, string> };
    expect(body.method).toBe('POST');
    expect(body.auth['x-auth-identifier']).toBe(client.clientId);
    expect(body.auth['x-auth-scopes']).toBe('claims:read');
  });

  it('replaces X-Auth-* headers the client made up', async () => {
    const res = await fetch(`${base}/documents/1`, {
      headers: { authorization: basic(apiKey.username, apiKey.key), 'x-auth-company': '999', 'x-auth-scopes': 'everything' },
    });
    const body = (await res.json()) as { auth: Record<string, string> };
    expect(body.auth['x-auth-company']).toBe(String(acme.companyId));
    expect(body.auth['x-auth-scopes']).not.toContain('everything');
  });

  it('answers 401 with the console’s challenge, and the API never sees the request', async () => {
    const none = await fetch(`${base}/documents/1`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Basic realm="API", Bearer realm="API"');

    const wrong = await fetch(`${base}/documents/1`, { headers: { authorization: basic(apiKey.username, mistyped(apiKey.key)) } });
    expect(wrong.status).toBe(401);

    const badToken = await fetch(`${base}/documents/1`, { headers: { authorization: 'Bearer x.y.z' } });
    expect(badToken.status).toBe(401);
    expect(badToken.headers.get('www-authenticate')).toMatch(/^Bearer realm="API", error="invalid_token"/);
    expect(seen).toEqual([]);
  });

  it('answers 403 insufficient_scope where the location requires a scope the caller lacks', async () => {
    const token = await obtainToken(ctx.app, client, 'claims:read');
    const res = await fetch(`${base}/claims/42`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="API", error="insufficient_scope", scope="claims:write"');
    expect(seen).toEqual([]);

    const wider = await obtainToken(ctx.app, client, 'claims:read claims:write');
    expect((await fetch(`${base}/claims/42`, { headers: { authorization: `Bearer ${wider}` } })).status).toBe(200);
  });

  it('refuses a key revoked a moment ago', async () => {
    const co = await seedCompany(ctx, 'Revoked', 'r@revoked.test');
    const key = await createApiKey(ctx, co.companyId, 'revoked-proxy');
    expect((await fetch(`${base}/documents/1`, { headers: { authorization: basic(key.username, key.key) } })).status).toBe(200);
    await revoke(ctx, co.companyId, key.credentialId);
    expect((await fetch(`${base}/documents/1`, { headers: { authorization: basic(key.username, key.key) } })).status).toBe(401);
  });

  it('passes Retry-After on when the console throttles the client address nginx gives', async () => {
    const key = await createApiKey(ctx, acme.companyId, 'throttled-proxy');
    for (let i = 0; i < 30; i++) {
      await fetch(`${base}/documents/1`, { headers: { authorization: basic(key.username, 'wrong') } });
    }
    const res = await fetch(`${base}/documents/1`, { headers: { authorization: basic(key.username, key.key) } });
    expect(res.status).toBe(401);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(seen).toEqual([]);
  });

  it('ran the documented configuration without a warning', () => {
    const log = fs.readFileSync(path.join(dir, 'logs', 'error.log'), 'utf8');
    expect(log).not.toMatch(/\[(warn|error|crit|alert|emerg)\]/);
  });
});
