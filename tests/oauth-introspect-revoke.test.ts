import crypto from 'node:crypto';
import request from 'supertest';
import { HOUR } from '../src/clock';
import { createTestContext, seedCompany } from './helpers';
import { clientBasic, createClient, decodeJwtPart, obtainToken, revoke } from './oauth-support';
import type { ErrorBody, TestClient } from './oauth-support';
import type { Introspection } from '../src/platform/oauth/service';

function foreignSigned(token: string): string {
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const [header, payload] = token.split('.');
  const signature = crypto.sign('sha256', Buffer.from(`${header}.${payload}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${header}.${payload}.${signature.toString('base64url')}`;
}

describe('POST /oauth/introspect', () => {
  const ctx = createTestContext();
  let caller: TestClient;
  let stranger: TestClient;
  beforeAll(async () => {
    caller = await createClient(ctx, (await seedCompany(ctx, 'Acme', 'admin@acme.test')).companyId, ['claims:read', 'claims:write']);
    stranger = await createClient(ctx, (await seedCompany(ctx, 'Globex', 'admin@globex.test')).companyId);
  });
  afterAll(() => ctx.close());

  const introspect = (as: TestClient, token: string) =>
    request(ctx.app).post('/oauth/introspect').set('Authorization', clientBasic(as.clientId, as.secret)).type('form').send({ token });

  it('describes an active token of the caller (RFC 7662)', async () => {
    const token = await obtainToken(ctx.app, caller, 'claims:read');
    const claims = decodeJwtPart(token, 1);
    const res = await introspect(caller, token);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.pragma).toBe('no-cache');
    expect(res.body).toEqual({
      active: true,
      scope: 'claims:read',
      client_id: caller.clientId,
      token_type: 'Bearer',
      exp: claims.exp,
      iat: claims.iat,
      sub: caller.clientId,
      aud: 'http://127.0.0.1:3000/api',
      iss: 'http://127.0.0.1:3000',
      jti: claims.jti,
    });
  });

  it('accepts client_secret_post from the caller', async () => {
    const token = await obtainToken(ctx.app, caller);
    const res = await request(ctx.app).post('/oauth/introspect').type('form').send({ token, client_id: caller.clientId, client_secret: caller.secret });
    expect((res.body as Introspection).active).toBe(true);
  });

  it('lets a client introspect the tokens of its company’s other working client', async () => {
    const co = await seedCompany(ctx, 'Overlap', 'o@overlap.test');
    const oldClient = await createClient(ctx, co.companyId);
    const oldToken = await obtainToken(ctx.app, oldClient);
    const newClient = await createClient(ctx, co.companyId, undefined, '24h');
    const res = await introspect(newClient, oldToken);
    expect(res.body).toMatchObject({ active: true, client_id: oldClient.clientId });
  });

  it('says {"active": false} for a token of another company', async () => {
    const token = await obtainToken(ctx.app, stranger);
    const res = await introspect(caller, token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ active: false });
    expect(((await introspect(stranger, token)).body as Introspection).active).toBe(true);
  });

  it('says {"active": false} for unknown and foreign-signed tokens', async () => {
    const genuine = await obtainToken(ctx.app, caller);
    for (const token of ['nonsense', `${genuine}x`, foreignSigned(genuine)]) {
      const res = await introspect(caller, token);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ active: false });
    }
  });

  it('says {"active": false} for an expired token', async () => {
    const token = await obtainToken(ctx.app, caller);
    ctx.clock.advance(HOUR);
    expect((await introspect(caller, token)).body).toEqual({ active: false });
  });

  it('says {"active": false} for a revoked token', async () => {
    const token = await obtainToken(ctx.app, caller);
    const revoked = await request(ctx.app).post('/oauth/revoke').set('Authorization', clientBasic(caller.clientId, caller.secret)).type('form').send({ token });
    expect(revoked.status).toBe(200);
    expect((await introspect(caller, token)).body).toEqual({ active: false });
  });

  it('says {"active": false} for a token whose client was replaced or revoked', async () => {
    const co = await seedCompany(ctx, 'Churn', 'c@churn.test');
    const first = await createClient(ctx, co.companyId);
    const firstToken = await obtainToken(ctx.app, first);
    const second = await createClient(ctx, co.companyId); // replaces `first`, no overlap
    expect((await introspect(second, firstToken)).body).toEqual({ active: false });

    const secondToken = await obtainToken(ctx.app, second);
    const third = await createClient(ctx, co.companyId, undefined, '7d');
    await revoke(ctx, co.companyId, second.credentialId);
    expect((await introspect(third, secondToken)).body).toEqual({ active: false });
  });

  it('requires the caller to authenticate as a client', async () => {
    const token = await obtainToken(ctx.app, caller);
    const anonymous = await request(ctx.app).post('/oauth/introspect').type('form').send({ token });
    expect(anonymous.status).toBe(401);
    expect((anonymous.body as ErrorBody).error).toBe('invalid_client');
    const wrong = await request(ctx.app)
      .post('/oauth/introspect')
      .set('Authorization', clientBasic(caller.clientId, stranger.secret))
      .type('form')
      .send({ token });
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toMatch(/^Basic /);
  });

  it('requires the token parameter', async () => {
    const res = await request(ctx.app).post('/oauth/introspect').set('Authorization', clientBasic(caller.clientId, caller.secret)).type('form').send({});
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'The token parameter is required.' });
  });
});

describe('POST /oauth/revoke', () => {
  const ctx = createTestContext();
  let owner: TestClient;
  let stranger: TestClient;
  beforeAll(async () => {
    owner = await createClient(ctx, (await seedCompany(ctx, 'Acme', 'admin@acme.test')).companyId);
    stranger = await createClient(ctx, (await seedCompany(ctx, 'Globex', 'admin@globex.test')).companyId);
  });
  afterAll(() => ctx.close());

  const revokeAs = (as: TestClient, token: string, hint?: string) =>
    request(ctx.app)
      .post('/oauth/revoke')
      .set('Authorization', clientBasic(as.clientId, as.secret))
      .type('form')
      .send(hint ? { token, token_type_hint: hint } : { token });
  const me = (token: string) => request(ctx.app).get('/api/v1/me').set('Authorization', `Bearer ${token}`);

  it('revokes the caller’s own token: its next use fails', async () => {
    const token = await obtainToken(ctx.app, owner);
    expect((await me(token)).status).toBe(200);
    const res = await revokeAs(owner, token, 'access_token');
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expect(res.headers['cache-control']).toBe('no-store');
    expect((await me(token)).status).toBe(401);
    const [audit] = await ctx.query<{ actor: string; details: string }>("SELECT actor, details FROM audit_log WHERE action = 'oauth.token_revoke'");
    expect(audit.actor).toBe(owner.clientId);
    expect(JSON.parse(audit.details)).toMatchObject({ jti: decodeJwtPart(token, 1).jti });
  });

  it('keeps the other tokens of the client working', async () => {
    const a = await obtainToken(ctx.app, owner);
    const b = await obtainToken(ctx.app, owner);
    await revokeAs(owner, a);
    expect((await me(a)).status).toBe(401);
    expect((await me(b)).status).toBe(200);
  });

  it('answers 200 for unknown, foreign-signed and repeated revocations', async () => {
    const token = await obtainToken(ctx.app, owner);
    for (const t of ['unknown-token', foreignSigned(token)]) {
      const res = await revokeAs(owner, t);
      expect(res.status).toBe(200);
    }
    expect((await me(token)).status).toBe(200); // the foreign copy revoked nothing
    expect((await revokeAs(owner, token)).status).toBe(200);
    expect((await revokeAs(owner, token)).status).toBe(200);
  });

  it('refuses to revoke another client’s token (RFC 7009 2.1) and leaves it working', async () => {
    const token = await obtainToken(ctx.app, owner);
    const res = await revokeAs(stranger, token);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'unauthorized_client', error_description: expect.stringContaining('only its own tokens') });
    expect((await me(token)).status).toBe(200);
  });

  it('requires client authentication', async () => {
    const token = await obtainToken(ctx.app, owner);
    const res = await request(ctx.app).post('/oauth/revoke').type('form').send({ token });
    expect(res.status).toBe(401);
    expect((res.body as ErrorBody).error).toBe('invalid_client');
    expect((await me(token)).status).toBe(200);
  });

  it('remembers a revoked token only until it would have expired', async () => {
    const token = await obtainToken(ctx.app, owner);
    await revokeAs(owner, token);
    const count = (jti: string) => ctx.value('SELECT COUNT(*) FROM revoked_tokens WHERE jti = ?', jti);
    const jti = decodeJwtPart(token, 1).jti as string;
    expect(await count(jti)).toBe(1);
    ctx.clock.advance(HOUR);
    await revokeAs(owner, await obtainToken(ctx.app, owner)); // any revocation prunes the expired ones
    expect(await count(jti)).toBe(0);
    expect((await me(token)).status).toBe(401); // and it has expired anyway
  });
});
