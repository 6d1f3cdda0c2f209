import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as jose from 'jose';
import * as oauth from 'oauth4webapi';
import { createTestContext, seedCompany } from './helpers';
import type { TestContext } from './helpers';
import { createClient } from './oauth-support';
import type { TestClient } from './oauth-support';

/** A standard client (oauth4webapi) against the real server, and a standard verifier (jose) against our JWKS. */
describe('a real OAuth 2.0 client library', () => {
  let ctx: TestContext;
  let server: http.Server;
  let issuer: URL;
  let client: TestClient;
  let as: oauth.AuthorizationServer;
  // The test server speaks plain http on loopback; oauth4webapi asks for this to be said explicitly.
  const insecure = { [oauth.allowInsecureRequests]: true };

  beforeAll(async () => {
    // Listen first, so PUBLIC_URL (the issuer) can carry the real port.
    server = http.createServer((req, res) => {
      ctx.app(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    ctx = createTestContext({ PUBLIC_URL: issuer.href });
    ctx.clock.set(Date.now()); // jose checks exp and iat against the real clock
    const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    client = await createClient(ctx, acme.companyId, ['claims:read', 'claims:write']);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await ctx.close();
  });

  it('discovers the metadata (RFC 8414)', () => {
    expect(as.issuer).toBe(issuer.href.replace(/\/$/, ''));
    expect(as.token_endpoint).toBe(`${as.issuer}/oauth/token`);
    expect(as.grant_types_supported).toEqual(['client_credentials']);
  });

  it.each([
    ['client_secret_basic', (secret: string) => oauth.ClientSecretBasic(secret)],
    ['client_secret_post', (secret: string) => oauth.ClientSecretPost(secret)],
  ])('obtains a narrowed token with %s that jose verifies against our JWKS', async (_method, auth) => {
    const response = await oauth.clientCredentialsGrantRequest(as, { client_id: client.clientId }, auth(client.secret), { scope: 'claims:read' }, insecure);
    const result = await oauth.processClientCredentialsResponse(as, { client_id: client.clientId }, response);
    expect(result.token_type).toBe('bearer'); // oauth4webapi lower-cases it
    expect(result.scope).toBe('claims:read');
    expect(result.refresh_token).toBeUndefined();

    const jwks = (await (await fetch(as.jwks_uri!)).json()) as jose.JSONWebKeySet;
    const { payload, protectedHeader } = await jose.jwtVerify(result.access_token, jose.createLocalJWKSet(jwks), {
      issuer: as.issuer,
      audience: `${as.issuer}/api`,
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload).toMatchObject({ sub: client.clientId, client_id: client.clientId, scope: 'claims:read' });
    expect(typeof payload.jti).toBe('string');
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it('gets the 401 challenge and the RFC 6749 error through the library for a wrong secret', async () => {
    const response = await oauth.clientCredentialsGrantRequest(as, { client_id: client.clientId }, oauth.ClientSecretBasic(`${client.secret}x`), {}, insecure);
    const failure = (await oauth
      .processClientCredentialsResponse(as, { client_id: client.clientId }, response)
      .catch((err: unknown) => err)) as oauth.WWWAuthenticateChallengeError;
    expect(failure).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
    expect(failure.status).toBe(401);
    expect(failure.cause).toEqual([{ scheme: 'basic', parameters: { realm: 'oauth', charset: 'UTF-8' } }]);
    expect(await failure.response.json()).toEqual({ error: 'invalid_client', error_description: 'Client authentication failed.' });
  });

  it('revokes and introspects through the library', async () => {
    const auth = oauth.ClientSecretBasic(client.secret);
    const grant = await oauth.processClientCredentialsResponse(
      as,
      { client_id: client.clientId },
      await oauth.clientCredentialsGrantRequest(as, { client_id: client.clientId }, auth, {}, insecure),
    );
    const before = await oauth.processIntrospectionResponse(
      as,
      { client_id: client.clientId },
      await oauth.introspectionRequest(as, { client_id: client.clientId }, auth, grant.access_token, insecure),
    );
    expect(before.active).toBe(true);
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, { client_id: client.clientId }, auth, grant.access_token, insecure));
    const after = await oauth.processIntrospectionResponse(
      as,
      { client_id: client.clientId },
      await oauth.introspectionRequest(as, { client_id: client.clientId }, auth, grant.access_token, insecure),
    );
    expect(after.active).toBe(false);
  });
});
