import request from 'supertest';
import { HOUR, MINUTE } from '../src/clock';
import { SYSTEM_ACTOR } from '../src/features/audit/service';
import { generateApiKeyFor, generateClientCredentials, sweepCredentials } from '../src/features/credentials/service';
import type { Overlap } from '../src/features/credentials/service';
import { createTestContext, seedCompany } from './helpers';
import { clientBasic, createApiKey, createClient, credentialsDeps, revoke } from './oauth-support';
import type { ErrorBody } from './oauth-support';

const basic = (username: string, key: string) => `Basic ${Buffer.from(`${username}:${key}`).toString('base64')}`;
const at = (day: number, hour: number, minute = 0) => Date.UTC(2026, 10, day, hour, minute);

/**
 * A secret that matches a credential which stopped working (replaced, revoked, expired) comes from its
 * holder: it is told what happened, and it never counts as a failed attempt, so a stale service
 * (after a rotation without overlap) blocks neither its own host nor everyone behind the same NAT.
 */
describe('credentials that stopped working, on the platform API', () => {
  const ctx = createTestContext({ TRUST_PROXY: 'true' });
  afterAll(() => ctx.close());

  /** A new company whose API key `username` was saved on `day` at 08:00 and replaced at 09:00. */
  const rotatedApiKey = async (username: string, day: number, overlap: Overlap = 'none') => {
    const { companyId } = await seedCompany(ctx, `Company of ${username}`, `admin@${username}.test`);
    ctx.clock.set(at(day, 8));
    const old = await createApiKey(ctx, companyId, username);
    ctx.clock.set(at(day, 9));
    return { old, fresh: await createApiKey(ctx, companyId, username, overlap) };
  };

  describe('GET /api/v1/me', () => {
    const me = (from: string, username: string, key: string) =>
      request(ctx.app).get('/api/v1/me').set('X-Forwarded-For', from).set('Authorization', basic(username, key));

    it('tells the holder of a replaced key when it was replaced, 100 times without blocking the new key from the same address', async () => {
      const { old, fresh } = await rotatedApiKey('stale-service', 2);
      const description = 'This API key was replaced on 2026-11-02 09:00 UTC: use the new key.';

      for (let i = 0; i < 100; i++) {
        const res = await me('10.2.0.1', old.username, old.key);
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ error: 'unauthorized', error_description: description });
        expect(res.headers['www-authenticate']).toBe(`Basic realm="API", error_description="${description}", Bearer realm="API"`);
        expect(res.headers['retry-after']).toBeUndefined();
      }
      const updated = await me('10.2.0.1', fresh.username, fresh.key);
      expect(updated.status).toBe(200);
      expect((updated.body as { credential: unknown }).credential).toEqual({ kind: 'basic', id: fresh.credentialId, identifier: 'stale-service' });
    });

    it('says when a key was revoked', async () => {
      const company = await seedCompany(ctx, 'Revoked', 'a@revoked.test');
      ctx.clock.set(at(3, 8));
      const key = await createApiKey(ctx, company.companyId, 'revoked-service');
      ctx.clock.set(at(3, 14, 30));
      await revoke(ctx, company.companyId, key.credentialId);
      ctx.clock.advance(HOUR);
      const res = await me('10.2.1.1', key.username, key.key);
      expect(res.status).toBe(401);
      expect((res.body as ErrorBody).error_description).toBe('This API key was revoked on 2026-11-03 14:30 UTC.');
      expect(res.headers['www-authenticate']).toContain('error_description="This API key was revoked on 2026-11-03 14:30 UTC."');
    });

    it('says a key expired before it was saved, before and after the sweep marks it', async () => {
      const company = await seedCompany(ctx, 'Unsaved', 'a@unsaved.test');
      ctx.clock.set(at(4, 10));
      const generated = await generateApiKeyFor(credentialsDeps(ctx), company.companyId, 'never-saved', SYSTEM_ACTOR);
      const description = 'This API key expired on 2026-11-04 10:30 UTC before it was saved.';

      ctx.clock.advance(31 * MINUTE);
      expect(((await me('10.2.2.1', 'never-saved', generated.secret)).body as ErrorBody).error_description).toBe(description);
      await sweepCredentials(credentialsDeps(ctx));
      const swept = await me('10.2.2.1', 'never-saved', generated.secret);
      expect(swept.status).toBe(401);
      expect((swept.body as ErrorBody).error_description).toBe(description);
    });

    it('says a generated key works once it is saved', async () => {
      const company = await seedCompany(ctx, 'Pending', 'a@pending.test');
      ctx.clock.set(at(5, 10));
      const generated = await generateApiKeyFor(credentialsDeps(ctx), company.companyId, 'not-yet-saved', SYSTEM_ACTOR);
      const res = await me('10.2.3.1', 'not-yet-saved', generated.secret);
      expect(res.status).toBe(401);
      expect((res.body as ErrorBody).error_description).toBe('This API key has not been saved yet: it works once an administrator saves it on the API page.');
    });

    it('keeps the old key working during an overlap, then says it was replaced at the end of the overlap', async () => {
      const { old } = await rotatedApiKey('overlapping', 6, '1h');
      expect((await me('10.2.4.1', old.username, old.key)).status).toBe(200);

      ctx.clock.set(at(6, 10, 5));
      const res = await me('10.2.4.1', old.username, old.key);
      expect(res.status).toBe(401);
      expect((res.body as ErrorBody).error_description).toBe('This API key was replaced on 2026-11-06 10:00 UTC: use the new key.');
    });
  });

  describe('GET /auth/verify', () => {
    it('tells a stale service behind a proxy that its key was replaced, 100 times without blocking the new key from the same address', async () => {
      const { old, fresh } = await rotatedApiKey('nat-service', 7);
      const verify = (key: string) => request(ctx.app).get('/auth/verify').set('X-Forwarded-For', '10.2.5.1').set('Authorization', basic('nat-service', key));

      for (let i = 0; i < 100; i++) {
        const res = await verify(old.key);
        expect(res.status).toBe(401);
        expect(res.headers['www-authenticate']).toBe(
          'Basic realm="API", error_description="This API key was replaced on 2026-11-07 09:00 UTC: use the new key.", Bearer realm="API"',
        );
        expect(res.headers['x-auth-company']).toBeUndefined();
      }
      const updated = await verify(fresh.key);
      expect(updated.status).toBe(200);
      expect(updated.headers['x-auth-credential']).toBe(String(fresh.credentialId));
    });
  });

  describe('POST /oauth/token', () => {
    const ask = (from: string, clientId: string, secret: string) =>
      request(ctx.app)
        .post('/oauth/token')
        .set('X-Forwarded-For', from)
        .set('Authorization', clientBasic(clientId, secret))
        .type('form')
        .send({ grant_type: 'client_credentials' });

    it('answers a replaced client secret with invalid_client saying so, 100 times without blocking the new client from the same address', async () => {
      const company = await seedCompany(ctx, 'Rotated clients', 'a@clients.test');
      ctx.clock.set(at(8, 8));
      const old = await createClient(ctx, company.companyId);
      ctx.clock.set(at(8, 9));
      const fresh = await createClient(ctx, company.companyId);

      for (let i = 0; i < 100; i++) {
        const res = await ask('10.2.6.1', old.clientId, old.secret);
        expect(res.status).toBe(401);
        expect(res.body).toEqual({
          error: 'invalid_client',
          error_description: 'This client secret was replaced on 2026-11-08 09:00 UTC: use the new Client ID and client secret.',
        });
        expect(res.headers['www-authenticate']).toBe('Basic realm="oauth", charset="UTF-8"');
        expect(res.headers['cache-control']).toBe('no-store');
      }
      const updated = await ask('10.2.6.1', fresh.clientId, fresh.secret);
      expect(updated.status).toBe(200);
      expect((updated.body as { token_type: string }).token_type).toBe('Bearer');
    });

    it('says when a client secret was revoked', async () => {
      const company = await seedCompany(ctx, 'Revoked client', 'a@revoked-client.test');
      ctx.clock.set(at(9, 8));
      const client = await createClient(ctx, company.companyId);
      ctx.clock.set(at(9, 16, 45));
      await revoke(ctx, company.companyId, client.credentialId);
      const res = await ask('10.2.7.1', client.clientId, client.secret);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid_client', error_description: 'This client secret was revoked on 2026-11-09 16:45 UTC.' });
    });

    it('says when a client secret expired before it was saved', async () => {
      const company = await seedCompany(ctx, 'Unsaved client', 'a@unsaved-client.test');
      ctx.clock.set(at(10, 12));
      const generated = await generateClientCredentials(credentialsDeps(ctx), company.companyId, undefined, SYSTEM_ACTOR);
      ctx.clock.advance(HOUR);
      const res = await ask('10.2.8.1', generated.credential.identifier, generated.secret);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid_client', error_description: 'This client secret expired on 2026-11-10 12:30 UTC before it was saved.' });
    });
  });
});
