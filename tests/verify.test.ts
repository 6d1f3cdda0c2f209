import crypto from 'node:crypto';
import request from 'supertest';
import { HOUR, MINUTE } from '../src/clock';
import { createTestContext, mistyped, seedCompany } from './helpers';
import type { SeededUser } from './helpers';
import { createApiKey, createClient, decodeJwtPart, obtainToken, revoke } from './oauth-support';
import type { ErrorBody, TestApiKey, TestClient } from './oauth-support';

const basic = (username: string, key: string) => `Basic ${Buffer.from(`${username}:${key}`).toString('base64')}`;
const BOTH_CHALLENGES = 'Basic realm="API", Bearer realm="API"';

/** Signs a token exactly like ours, with a key that is not ours. */
function foreignToken(claims: Record<string, unknown>, kid: string): string {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${part({ alg: 'ES256', typ: 'at+jwt', kid })}.${part(claims)}`;
  const signature = crypto.sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

describe('GET /api/v1/me', () => {
  const ctx = createTestContext();
  let acme: SeededUser;
  let apiKey: TestApiKey;
  let client: TestClient;
  beforeAll(async () => {
    acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    apiKey = await createApiKey(ctx, acme.companyId, 'acme-billing');
    client = await createClient(ctx, acme.companyId, ['claims:read', 'documents:read']);
  });
  afterAll(() => ctx.close());

  it('tells a Basic Auth caller who it is', async () => {
    const res = await request(ctx.app).get('/api/v1/me').set('Authorization', basic(apiKey.username, apiKey.key));
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.body).toEqual({
      company: { id: acme.companyId, name: 'Acme' },
      credential: { kind: 'basic', id: apiKey.credentialId, identifier: 'acme-billing' },
      scopes: ['claims:read', 'claims:write', 'documents:read', 'documents:write'],
    });
  });

  it('tells a Bearer caller who it is, with the token’s scopes', async () => {
    const accessToken = await obtainToken(ctx.app, client, 'claims:read');
    const res = await request(ctx.app).get('/api/v1/me').set('Authorization', `Bearer ${accessToken}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      company: { id: acme.companyId, name: 'Acme' },
      credential: { kind: 'oauth', id: client.credentialId, identifier: client.clientId },
      scopes: ['claims:read'],
    });
  });

  it('asks for credentials with both challenges when none were sent', async () => {
    const res = await request(ctx.app).get('/api/v1/me');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(BOTH_CHALLENGES);
    expect((res.body as ErrorBody).error).toBe('unauthorized');
  });

  it('answers a scheme it does not offer like no credentials', async () => {
    const res = await request(ctx.app).get('/api/v1/me').set('Authorization', 'Digest username="x"');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(BOTH_CHALLENGES);
  });

  it('gives the same generic answer for a wrong key and an unknown username', async () => {
    const other = await createApiKey(ctx, (await seedCompany(ctx, 'Other', 'o@other.test')).companyId, 'other-svc');
    const wrongKey = await request(ctx.app).get('/api/v1/me').set('Authorization', basic(apiKey.username, other.key));
    const unknownUser = await request(ctx.app).get('/api/v1/me').set('Authorization', basic('nobody', apiKey.key));
    const malformedKey = await request(ctx.app).get('/api/v1/me').set('Authorization', basic(apiKey.username, 'cxk_nope'));
    for (const res of [wrongKey, unknownUser, malformedKey]) {
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe(BOTH_CHALLENGES);
      expect(res.body).toEqual({ error: 'unauthorized', error_description: 'The API username or key is not valid.' });
    }
  });

  it('refuses an API key whose checksum is wrong before any lookup', async () => {
    const flipped = mistyped(apiKey.key);
    const res = await request(ctx.app).get('/api/v1/me').set('Authorization', basic(apiKey.username, flipped));
    expect(res.status).toBe(401);
  });

  it('answers an invalid Bearer token with error="invalid_token" (RFC 6750)', async () => {
    const res = await request(ctx.app).get('/api/v1/me').set('Authorization', 'Bearer not.a.token');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="API", error="invalid_token"/);
    expect((res.body as ErrorBody).error).toBe('invalid_token');
  });

  it('refuses an expired token (the injected clock moves past exp)', async () => {
    const accessToken = await obtainToken(ctx.app, client);
    const me = () => request(ctx.app).get('/api/v1/me').set('Authorization', `Bearer ${accessToken}`);
    expect((await me()).status).toBe(200);
    ctx.clock.advance(HOUR - 1000);
    expect((await me()).status).toBe(200);
    ctx.clock.advance(1000);
    const res = await me();
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  });

  it('refuses a token signed by a foreign key, with our kid or another', async () => {
    const genuine = await obtainToken(ctx.app, client);
    const claims = decodeJwtPart(genuine, 1);
    const ourKid = decodeJwtPart(genuine, 0).kid as string;
    for (const token of [foreignToken(claims, ourKid), foreignToken(claims, 'a'.repeat(43)), foreignToken(claims, 'other')]) {
      const res = await request(ctx.app).get('/api/v1/me').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(401);
      expect((res.body as ErrorBody).error).toBe('invalid_token');
    }
  });

  it('refuses a token whose claims were altered after signing', async () => {
    const genuine = await obtainToken(ctx.app, client, 'claims:read');
    const [header, payload, signature] = genuine.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const widened = Buffer.from(JSON.stringify({ ...claims, scope: 'claims:read documents:read' })).toString('base64url');
    const res = await request(ctx.app).get('/api/v1/me').set('Authorization', `Bearer ${header}.${widened}.${signature}`);
    expect(res.status).toBe(401);
  });

  it('refuses alg "none"', async () => {
    const genuine = await obtainToken(ctx.app, client);
    const [, payload] = genuine.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${payload}.`;
    const res = await request(ctx.app).get('/api/v1/me').set('Authorization', `Bearer ${none}`);
    expect(res.status).toBe(401);
  });

  it('stops a token at once when its client is revoked', async () => {
    const co = await seedCompany(ctx, 'Revokes', 'r@revokes.test');
    const c = await createClient(ctx, co.companyId);
    const accessToken = await obtainToken(ctx.app, c);
    const me = () => request(ctx.app).get('/api/v1/me').set('Authorization', `Bearer ${accessToken}`);
    expect((await me()).status).toBe(200);
    await revoke(ctx, co.companyId, c.credentialId);
    expect((await me()).status).toBe(401);
  });

  it('stops a token when its client is replaced, at the end of the overlap', async () => {
    const co = await seedCompany(ctx, 'Replaces', 'r@replaces.test');
    const c = await createClient(ctx, co.companyId);
    const accessToken = await obtainToken(ctx.app, c);
    await createClient(ctx, co.companyId, undefined, '1h');
    const me = () => request(ctx.app).get('/api/v1/me').set('Authorization', `Bearer ${accessToken}`);
    ctx.clock.advance(HOUR - MINUTE);
    expect((await me()).status).toBe(200);
    ctx.clock.advance(MINUTE);
    expect((await me()).status).toBe(401);
  });

  it('stops an API key at once when it is replaced without overlap', async () => {
    const co = await seedCompany(ctx, 'Keys', 'k@keys.test');
    const first = await createApiKey(ctx, co.companyId, 'keys-svc');
    const me = (k: typeof first) => request(ctx.app).get('/api/v1/me').set('Authorization', basic(k.username, k.key));
    expect((await me(first)).status).toBe(200);
    const second = await createApiKey(ctx, co.companyId, 'keys-svc');
    expect((await me(first)).status).toBe(401);
    expect((await me(second)).status).toBe(200);
  });

  it('writes nothing to the database per request', async () => {
    const accessToken = await obtainToken(ctx.app, client);
    const before = ctx.writes();
    for (let i = 0; i < 10; i++) {
      expect((await request(ctx.app).get('/api/v1/me').set('Authorization', basic(apiKey.username, apiKey.key))).status).toBe(200);
      expect((await request(ctx.app).get('/api/v1/me').set('Authorization', `Bearer ${accessToken}`)).status).toBe(200);
    }
    // One 5-second flush may fall in here: last-used times and usage (features/usage), two credentials
    // each (two rows of last use, two hours, two last callers), and usage's hourly prune: 7 at most.
    expect(ctx.writes()).toBeLessThanOrEqual(before + 7);
  });
});

describe('GET /auth/verify (forward-auth)', () => {
  const ctx = createTestContext();
  let acme: SeededUser;
  let apiKey: TestApiKey;
  let client: TestClient;
  beforeAll(async () => {
    acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    apiKey = await createApiKey(ctx, acme.companyId, 'acme-gateway');
    client = await createClient(ctx, acme.companyId, ['claims:read', 'claims:write']);
  });
  afterAll(() => ctx.close());

  it('answers 200 with the caller in X-Auth-* headers (Basic)', async () => {
    const res = await request(ctx.app).get('/auth/verify').set('Authorization', basic(apiKey.username, apiKey.key));
    expect(res.status).toBe(200);
    expect(res.headers['x-auth-company']).toBe(String(acme.companyId));
    expect(res.headers['x-auth-credential']).toBe(String(apiKey.credentialId));
    expect(res.headers['x-auth-credential-kind']).toBe('basic');
    expect(res.headers['x-auth-identifier']).toBe('acme-gateway');
    expect(res.headers['x-auth-scopes']).toBe('claims:read claims:write documents:read documents:write');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('answers 200 with the token’s client and scopes (Bearer)', async () => {
    const accessToken = await obtainToken(ctx.app, client, 'claims:read');
    const res = await request(ctx.app).get('/auth/verify').set('Authorization', `Bearer ${accessToken}`);
    expect(res.status).toBe(200);
    expect(res.headers['x-auth-credential']).toBe(String(client.credentialId));
    expect(res.headers['x-auth-credential-kind']).toBe('oauth');
    expect(res.headers['x-auth-identifier']).toBe(client.clientId);
    expect(res.headers['x-auth-scopes']).toBe('claims:read');
  });

  it('answers any method (nginx keeps the method of the guarded request)', async () => {
    const res = await request(ctx.app).post('/auth/verify').set('Authorization', basic(apiKey.username, apiKey.key));
    expect(res.status).toBe(200);
  });

  it('answers 401 with a challenge without credentials', async () => {
    const res = await request(ctx.app).get('/auth/verify');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(BOTH_CHALLENGES);
    expect(res.headers['x-auth-company']).toBeUndefined();
  });

  it('answers 200 when the caller holds every required scope', async () => {
    const res = await request(ctx.app).get('/auth/verify?scope=claims:read%20claims:write').set('Authorization', basic(apiKey.username, apiKey.key));
    expect(res.status).toBe(200);
  });

  it('answers 403 insufficient_scope when a required scope is missing', async () => {
    const accessToken = await obtainToken(ctx.app, client, 'claims:read');
    const res = await request(ctx.app).get('/auth/verify?scope=claims:write').set('Authorization', `Bearer ${accessToken}`);
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="API", error="insufficient_scope", scope="claims:write"');
    expect(res.body).toEqual({ error: 'insufficient_scope', error_description: 'This request needs the scope claims:write.' });
    expect(res.headers['x-auth-company']).toBeUndefined();
  });

  it('accepts the required scopes as repeated parameters', async () => {
    const accessToken = await obtainToken(ctx.app, client, 'claims:read');
    const res = await request(ctx.app).get('/auth/verify?scope=claims:read&scope=claims:write').set('Authorization', `Bearer ${accessToken}`);
    expect(res.status).toBe(403);
    expect((res.body as ErrorBody).error_description).toBe('This request needs the scope claims:write.');
  });

  it('refuses a malformed required scope with 400', async () => {
    const res = await request(ctx.app).get('/auth/verify?scope=a%22b').set('Authorization', basic(apiKey.username, apiKey.key));
    expect(res.status).toBe(400);
    expect((res.body as ErrorBody).error).toBe('bad_request');
  });

  it('checks credentials before scopes: a bad key is 401 even with a scope', async () => {
    const res = await request(ctx.app)
      .get('/auth/verify?scope=claims:read')
      .set('Authorization', basic(apiKey.username, `${apiKey.key}x`));
    expect(res.status).toBe(401);
  });
});
