import request from 'supertest';
import { HOUR } from '../src/clock';
import { SYSTEM_ACTOR } from '../src/features/audit/service';
import { generateClientCredentials } from '../src/features/credentials/service';
import { presentedClient } from '../src/platform/oauth/client-auth';
import type { TokenResponse } from '../src/platform/oauth/service';
import { createTestContext, mistyped, seedCompany } from './helpers';
import { clientBasic, createClient, credentialsDeps, decodeJwtPart, rawBasic, revoke } from './oauth-support';
import type { ErrorBody, TestClient } from './oauth-support';

const ISSUER = 'http://127.0.0.1:3000';

describe('GET /.well-known/oauth-authorization-server', () => {
  const ctx = createTestContext();
  afterAll(() => ctx.close());

  it('publishes RFC 8414 metadata whose token_endpoint is the Token URL', async () => {
    const res = await request(ctx.app).get('/.well-known/oauth-authorization-server');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({
      issuer: ISSUER,
      token_endpoint: `${ISSUER}/oauth/token`,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      introspection_endpoint: `${ISSUER}/oauth/introspect`,
      revocation_endpoint: `${ISSUER}/oauth/revoke`,
      grant_types_supported: ['client_credentials'],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      scopes_supported: ['claims:read', 'claims:write', 'documents:read', 'documents:write'],
    });
  });

  it('sets no cookie and answers other methods with 405', async () => {
    const res = await request(ctx.app).get('/.well-known/oauth-authorization-server');
    expect(res.headers['set-cookie']).toBeUndefined();
    const post = await request(ctx.app).post('/.well-known/oauth-authorization-server');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });
});

describe('POST /oauth/token', () => {
  const ctx = createTestContext();
  let client: TestClient;
  beforeAll(async () => {
    client = await createClient(ctx, (await seedCompany(ctx, 'Acme', 'admin@acme.test')).companyId, ['claims:read', 'claims:write']);
  });
  afterAll(() => ctx.close());

  const token = () => request(ctx.app).post('/oauth/token').type('form');

  it('issues an RFC 9068 access token to a client_secret_basic client', async () => {
    const res = await token().set('Authorization', clientBasic(client.clientId, client.secret)).send({ grant_type: 'client_credentials' });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.pragma).toBe('no-cache');
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600, scope: 'claims:read claims:write' });
    expect(res.body).not.toHaveProperty('refresh_token');

    const header = decodeJwtPart((res.body as TokenResponse).access_token, 0);
    expect(header).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    const claims = decodeJwtPart((res.body as TokenResponse).access_token, 1);
    const now = Math.floor(ctx.clock.now() / 1000);
    expect(claims).toEqual({
      iss: ISSUER,
      sub: client.clientId,
      aud: `${ISSUER}/api`,
      client_id: client.clientId,
      scope: 'claims:read claims:write',
      iat: now,
      exp: now + 3600,
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
      credential_id: client.credentialId,
    });
  });

  it('gives every token its own jti', async () => {
    const send = () => token().set('Authorization', clientBasic(client.clientId, client.secret)).send({ grant_type: 'client_credentials' });
    const [a, b] = await Promise.all([send(), send()]);
    expect(decodeJwtPart((a.body as TokenResponse).access_token, 1).jti).not.toBe(decodeJwtPart((b.body as TokenResponse).access_token, 1).jti);
  });

  it('accepts client_secret_post', async () => {
    const res = await token().send({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.secret });
    expect(res.status).toBe(200);
    expect((res.body as TokenResponse).token_type).toBe('Bearer');
  });

  it('refuses both authentication methods at once with invalid_request', async () => {
    const res = await token()
      .set('Authorization', clientBasic(client.clientId, client.secret))
      .send({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.secret });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: expect.stringContaining('not both') });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.pragma).toBe('no-cache');
  });

  it('answers a wrong secret in the header with 401 invalid_client and a Basic challenge, saying nothing about which part was wrong', async () => {
    const otherSecret = (await createClient(ctx, (await seedCompany(ctx, 'Other', 'o@other.test')).companyId)).secret;
    const wrongSecret = await token().set('Authorization', clientBasic(client.clientId, otherSecret)).send({ grant_type: 'client_credentials' });
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.headers['www-authenticate']).toMatch(/^Basic realm="oauth"/);
    expect(wrongSecret.headers['cache-control']).toBe('no-store');
    expect(wrongSecret.headers.pragma).toBe('no-cache');
    expect((wrongSecret.body as ErrorBody).error).toBe('invalid_client');

    const unknownClient = await token().set('Authorization', clientBasic('cxc_unknown', client.secret)).send({ grant_type: 'client_credentials' });
    expect(unknownClient.status).toBe(401);
    expect(unknownClient.body).toEqual(wrongSecret.body);
  });

  it('answers a wrong secret in the body with 401 invalid_client', async () => {
    // The last character changed to one it is not (it may already be an 'x').
    const wrong = mistyped(client.secret);
    const res = await token().send({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: wrong });
    expect(res.status).toBe(401);
    expect((res.body as ErrorBody).error).toBe('invalid_client');
    expect(res.headers['www-authenticate']).toMatch(/^Basic /);
  });

  it('answers a request without client authentication with 401 invalid_client', async () => {
    const res = await token().send({ grant_type: 'client_credentials' });
    expect(res.status).toBe(401);
    expect((res.body as ErrorBody).error).toBe('invalid_client');
  });

  it('refuses other authentication schemes with 401 invalid_client', async () => {
    const res = await token().set('Authorization', 'Bearer abc').send({ grant_type: 'client_credentials' });
    expect(res.status).toBe(401);
    expect((res.body as ErrorBody).error).toBe('invalid_client');
  });

  it.each(['password', 'authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:jwt-bearer'])(
    'refuses grant_type=%s with unsupported_grant_type',
    async (grantType) => {
      const res = await token().set('Authorization', clientBasic(client.clientId, client.secret)).send({ grant_type: grantType });
      expect(res.status).toBe(400);
      expect((res.body as ErrorBody).error).toBe('unsupported_grant_type');
      expect(res.headers['cache-control']).toBe('no-store');
    },
  );

  it('requires grant_type', async () => {
    const res = await token().set('Authorization', clientBasic(client.clientId, client.secret)).send({ scope: 'claims:read' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'grant_type is required (client_credentials).' });
  });

  it('refuses a repeated parameter', async () => {
    const res = await token()
      .set('Authorization', clientBasic(client.clientId, client.secret))
      .send('grant_type=client_credentials&scope=claims:read&scope=claims:write');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'The parameter "scope" must not be repeated.' });
  });

  it('accepts only application/x-www-form-urlencoded bodies', async () => {
    const res = await request(ctx.app)
      .post('/oauth/token')
      .set('Authorization', clientBasic(client.clientId, client.secret))
      .send({ grant_type: 'client_credentials' }); // JSON
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'The request body must be application/x-www-form-urlencoded.' });
    expect(res.headers.pragma).toBe('no-cache');
  });

  it('limits the body size', async () => {
    const res = await token()
      .set('Authorization', clientBasic(client.clientId, client.secret))
      .send(`grant_type=client_credentials&padding=${'x'.repeat(20_000)}`);
    expect(res.status).toBe(413);
    expect((res.body as ErrorBody).error).toBe('invalid_request');
  });

  it('answers GET with 405 and Allow: POST', async () => {
    const res = await request(ctx.app).get('/oauth/token');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  describe('scope', () => {
    it('narrows the token to the scopes asked for', async () => {
      const res = await token()
        .set('Authorization', clientBasic(client.clientId, client.secret))
        .send({ grant_type: 'client_credentials', scope: 'claims:read' });
      expect(res.status).toBe(200);
      expect((res.body as TokenResponse).scope).toBe('claims:read');
      expect(decodeJwtPart((res.body as TokenResponse).access_token, 1).scope).toBe('claims:read');
    });

    it('never widens: a scope the client does not hold is invalid_scope', async () => {
      const res = await token()
        .set('Authorization', clientBasic(client.clientId, client.secret))
        .send({ grant_type: 'client_credentials', scope: 'claims:read documents:write' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_scope', error_description: expect.stringContaining('documents:write') });
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it('calls a malformed scope invalid_scope', async () => {
      const res = await token()
        .set('Authorization', clientBasic(client.clientId, client.secret))
        .send({ grant_type: 'client_credentials', scope: 'claims"read' });
      expect(res.status).toBe(400);
      expect((res.body as ErrorBody).error).toBe('invalid_scope');
    });

    it('stops granting a scope the operator has taken from the company', async () => {
      const co = await seedCompany(ctx, 'Narrowed', 'n@narrowed.test');
      const c = await createClient(ctx, co.companyId, ['claims:read', 'claims:write']);
      await ctx.query("DELETE FROM company_scopes WHERE company_id = ? AND scope = 'claims:write'", co.companyId);
      const res = await token().set('Authorization', clientBasic(c.clientId, c.secret)).send({ grant_type: 'client_credentials' });
      expect((res.body as TokenResponse).scope).toBe('claims:read');
      const asked = await token().set('Authorization', clientBasic(c.clientId, c.secret)).send({ grant_type: 'client_credentials', scope: 'claims:write' });
      expect((asked.body as ErrorBody).error).toBe('invalid_scope');
    });
  });

  describe('Basic credentials are form-urlencoded before base64 (RFC 6749 2.3.1)', () => {
    it('decodes a hand-made header in which every character is percent-encoded', async () => {
      const pct = (s: string) => [...s].map((ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`).join('');
      const res = await token()
        .set('Authorization', rawBasic(`${pct(client.clientId)}:${pct(client.secret)}`))
        .send({ grant_type: 'client_credentials' });
      expect(res.status).toBe(200);
      expect(decodeJwtPart((res.body as TokenResponse).access_token, 1).client_id).toBe(client.clientId);
    });

    it('decodes ":", "%" and "+" in IDs and secrets, splitting at the one unencoded ":"', () => {
      const header = clientBasic('my:client%+id', 'p:a%s+s w');
      expect(header).toBe(rawBasic('my%3Aclient%25%2Bid:p%3Aa%25s%2Bs+w'));
      expect(presentedClient(header, {})).toEqual({ method: 'client_secret_basic', clientId: 'my:client%+id', clientSecret: 'p:a%s+s w' });
      // An unencoded ":" in the secret stays part of it; an unencoded "+" means a space.
      expect(presentedClient(rawBasic('id:a:b+c'), {})).toEqual({ method: 'client_secret_basic', clientId: 'id', clientSecret: 'a:b c' });
    });

    it('refuses a client ID with an encoded ":" that matches no client', async () => {
      const res = await token()
        .set('Authorization', clientBasic(`${client.clientId}:x`, client.secret))
        .send({ grant_type: 'client_credentials' });
      expect(res.status).toBe(401);
      expect((res.body as ErrorBody).error).toBe('invalid_client');
    });

    it('answers broken percent-encoding with 401 invalid_client and a challenge', async () => {
      const res = await token()
        .set('Authorization', rawBasic(`${client.clientId}:%zz${client.secret}`))
        .send({ grant_type: 'client_credentials' });
      expect(res.status).toBe(401);
      expect((res.body as ErrorBody).error).toBe('invalid_client');
      expect(res.headers['www-authenticate']).toMatch(/^Basic /);
    });

    it('answers a header that is not base64 with 401 invalid_client', async () => {
      const res = await token().set('Authorization', 'Basic ***').send({ grant_type: 'client_credentials' });
      expect(res.status).toBe(401);
      expect((res.body as ErrorBody).error).toBe('invalid_client');
    });
  });

  describe('which clients work', () => {
    it('refuses a generated client that was never saved', async () => {
      const co = await seedCompany(ctx, 'Unsaved', 'u@unsaved.test');
      const pending = await generateClientCredentials(credentialsDeps(ctx), co.companyId, undefined, SYSTEM_ACTOR);
      const res = await token().set('Authorization', clientBasic(pending.credential.identifier, pending.secret)).send({ grant_type: 'client_credentials' });
      expect(res.status).toBe(401);
    });

    it('refuses a revoked client at once', async () => {
      const co = await seedCompany(ctx, 'Revoked', 'r@revoked.test');
      const c = await createClient(ctx, co.companyId);
      await revoke(ctx, co.companyId, c.credentialId);
      const res = await token().set('Authorization', clientBasic(c.clientId, c.secret)).send({ grant_type: 'client_credentials' });
      expect(res.status).toBe(401);
      expect((res.body as ErrorBody).error).toBe('invalid_client');
    });

    it('refuses a replaced client at once without overlap, and at the end of an overlap', async () => {
      const co = await seedCompany(ctx, 'Rotating', 'rot@rotating.test');
      const first = await createClient(ctx, co.companyId);
      const second = await createClient(ctx, co.companyId, undefined, 'none');
      const ask = (c: typeof first) => token().set('Authorization', clientBasic(c.clientId, c.secret)).send({ grant_type: 'client_credentials' });
      expect((await ask(first)).status).toBe(401);
      expect((await ask(second)).status).toBe(200);

      const third = await createClient(ctx, co.companyId, undefined, '1h');
      expect((await ask(second)).status).toBe(200);
      expect((await ask(third)).status).toBe(200);
      ctx.clock.advance(HOUR);
      expect((await ask(second)).status).toBe(401);
      expect((await ask(third)).status).toBe(200);
    });
  });

  it('writes nothing to the database per token: last-used times are coalesced in memory', async () => {
    const before = ctx.writes();
    for (let i = 0; i < 20; i++) {
      const res = await token().set('Authorization', clientBasic(client.clientId, client.secret)).send({ grant_type: 'client_credentials' });
      expect(res.status).toBe(200);
    }
    // The in-memory last-used times and usage are flushed every 5 s: at most one flush can fall in here
    // (the client's last use, its hour and last caller, and usage's hourly prune).
    expect(ctx.writes()).toBeLessThanOrEqual(before + 4);
  });
});
