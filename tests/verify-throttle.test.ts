import request from 'supertest';
import { HOUR, MINUTE } from '../src/clock';
import { generateApiKey, generateClientSecret } from '../src/features/credentials/secrets';
import { createTestContext, mistyped, seedCompany, spyOnQueries } from './helpers';
import type { SeededUser } from './helpers';
import { clientBasic, createApiKey, createClient, obtainToken } from './oauth-support';
import type { ErrorBody } from './oauth-support';

const basic = (username: string, key: string) => `Basic ${Buffer.from(`${username}:${key}`).toString('base64')}`;

/** 100 wrong secrets of every sort: malformed, bad checksum, and well-formed but never issued. */
const wrongSecrets = (real: string, fresh: () => string) => Array.from({ length: 100 }, (_, i) => [`wrong ${i}`, mistyped(real), fresh()][i % 3]);

/**
 * Failed authentication is throttled per source address only (30 a minute): never per API username or
 * Client ID, which are public, so a stranger's wrong secrets never lock out the holder of the right one.
 */
describe('throttling failed authentication on the platform API', () => {
  // TRUST_PROXY so that X-Forwarded-For gives each request the source address the test chooses.
  const ctx = createTestContext({ TRUST_PROXY: 'true' });
  let acme: SeededUser;
  beforeAll(async () => {
    acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
  });
  afterAll(() => ctx.close());
  // Every test starts in a fresh failure window.
  beforeEach(() => ctx.clock.advance(MINUTE + 1000));

  describe('GET /api/v1/me', () => {
    it('after 100 wrong keys for a username from one address, answers the right key from another address with 200, and the first address with 429', async () => {
      const key = await createApiKey(ctx, acme.companyId, 'targeted-user');
      const me = (from: string, secret: string) =>
        request(ctx.app).get('/api/v1/me').set('X-Forwarded-For', from).set('Authorization', basic(key.username, secret));
      const statuses: number[] = [];
      for (const wrong of wrongSecrets(key.key, generateApiKey)) statuses.push((await me('10.0.1.1', wrong)).status);
      expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
      expect(statuses.slice(30).every((s) => s === 429)).toBe(true);

      const holder = await me('10.0.1.2', key.key);
      expect(holder.status).toBe(200);
      expect((holder.body as { credential: unknown }).credential).toEqual({ kind: 'basic', id: key.credentialId, identifier: 'targeted-user' });

      const stranger = await me('10.0.1.1', key.key);
      expect(stranger.status).toBe(429);
      expect(Number(stranger.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(stranger.headers['retry-after'])).toBeLessThanOrEqual(60);
      expect(stranger.body).toEqual({ error: 'too_many_requests', error_description: expect.stringMatching(/^Too many failed authentication attempts/) });

      ctx.clock.advance(MINUTE + 1000);
      expect((await me('10.0.1.1', key.key)).status).toBe(200);
    });

    it('refuses malformed and bad-checksum keys before any credential lookup, and reads one row for the right key', async () => {
      const key = await createApiKey(ctx, acme.companyId, 'looked-up-user');
      // Every query the app runs on the database goes through this one Kysely instance (on either engine);
      // the lookups counted are those of the credentials table (the throttle reads its own window first).
      const queries = spyOnQueries(ctx.database);
      const lookups = () => queries.sqls().filter((sql) => /(from|join)\s+"?credentials"?/i.test(sql)).length;
      const me = (secret: string) => request(ctx.app).get('/api/v1/me').set('X-Forwarded-For', '10.0.2.1').set('Authorization', basic(key.username, secret));
      try {
        for (const refused of ['wrong', mistyped(key.key), `${key.key}x`]) {
          expect((await me(refused)).status).toBe(401);
        }
        expect(lookups()).toBe(0);
        expect((await me(key.key)).status).toBe(200);
        expect(lookups()).toBe(1);
        expect((await me(generateApiKey())).status).toBe(401);
        expect(lookups()).toBeGreaterThan(1);
      } finally {
        queries.restore();
      }
    });

    it('blocks a source address after 30 unknown keys, whatever the usernames, and not the other addresses', async () => {
      const key = await createApiKey(ctx, acme.companyId, 'busy-user');
      for (let i = 0; i < 30; i++) {
        const res = await request(ctx.app)
          .get('/api/v1/me')
          .set('X-Forwarded-For', '10.0.3.1')
          .set('Authorization', basic(`made-up-${i}`, generateApiKey()));
        expect(res.status).toBe(401);
      }
      const blocked = await request(ctx.app).get('/api/v1/me').set('X-Forwarded-For', '10.0.3.1').set('Authorization', basic(key.username, key.key));
      expect(blocked.status).toBe(429);
      expect(blocked.headers['retry-after']).toBeDefined();
      const elsewhere = await request(ctx.app).get('/api/v1/me').set('X-Forwarded-For', '10.0.3.2').set('Authorization', basic(key.username, key.key));
      expect(elsewhere.status).toBe(200);
    });

    it('refuses a real key sent with another username generically, without counting it against the address', async () => {
      const key = await createApiKey(ctx, acme.companyId, 'misconfigured-user');
      for (let i = 0; i < 40; i++) {
        const res = await request(ctx.app).get('/api/v1/me').set('X-Forwarded-For', '10.0.8.1').set('Authorization', basic('not-the-username', key.key));
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ error: 'unauthorized', error_description: 'The API username or key is not valid.' });
      }
      expect((await request(ctx.app).get('/api/v1/me').set('X-Forwarded-For', '10.0.8.1').set('Authorization', basic(key.username, key.key))).status).toBe(200);
    });

    it('counts forged Bearer tokens per source', async () => {
      for (let i = 0; i < 30; i++) {
        await request(ctx.app).get('/api/v1/me').set('X-Forwarded-For', '10.0.4.1').set('Authorization', 'Bearer a.b.c');
      }
      const res = await request(ctx.app).get('/api/v1/me').set('X-Forwarded-For', '10.0.4.1').set('Authorization', 'Bearer a.b.c');
      expect(res.status).toBe(429);
    });

    it('does not count a genuine token that merely expired', async () => {
      const client = await createClient(ctx, acme.companyId);
      const token = await obtainToken(ctx.app, client);
      ctx.clock.advance(HOUR);
      for (let i = 0; i < 40; i++) {
        const res = await request(ctx.app).get('/api/v1/me').set('X-Forwarded-For', '10.0.5.1').set('Authorization', `Bearer ${token}`);
        expect(res.status).toBe(401);
      }
      const fresh = await obtainToken(ctx.app, client);
      expect((await request(ctx.app).get('/api/v1/me').set('X-Forwarded-For', '10.0.5.1').set('Authorization', `Bearer ${fresh}`)).status).toBe(200);
    });
  });

  describe('POST /oauth/token', () => {
    it('after 100 wrong secrets for a Client ID from one address, issues a token to the right secret from another address, and answers the first with 429', async () => {
      const client = await createClient(ctx, (await seedCompany(ctx, 'Tokens', 't@tokens.test')).companyId);
      const ask = (from: string, secret: string) =>
        request(ctx.app)
          .post('/oauth/token')
          .set('X-Forwarded-For', from)
          .set('Authorization', clientBasic(client.clientId, secret))
          .type('form')
          .send({ grant_type: 'client_credentials' });
      for (const wrong of wrongSecrets(client.secret, generateClientSecret)) expect([401, 429]).toContain((await ask('10.0.6.1', wrong)).status);

      const holder = await ask('10.0.6.2', client.secret);
      expect(holder.status).toBe(200);
      expect((holder.body as { token_type: string }).token_type).toBe('Bearer');

      const stranger = await ask('10.0.6.1', client.secret);
      expect(stranger.status).toBe(429);
      expect(stranger.headers['retry-after']).toBeDefined();
      expect(stranger.headers['cache-control']).toBe('no-store');
      expect(stranger.headers.pragma).toBe('no-cache');
      expect((stranger.body as ErrorBody).error).toBe('too_many_requests');
      ctx.clock.advance(MINUTE + 1000);
      expect((await ask('10.0.6.1', client.secret)).status).toBe(200);
    });

    it('counts a malformed Authorization header against the address', async () => {
      const client = await createClient(ctx, acme.companyId);
      const ask = (authorization: string) =>
        request(ctx.app)
          .post('/oauth/token')
          .set('X-Forwarded-For', '10.0.6.5')
          .set('Authorization', authorization)
          .type('form')
          .send({ grant_type: 'client_credentials' });
      for (let i = 0; i < 30; i++) expect((await ask('Basic !not-base64!')).status).toBe(401);
      const blocked = await ask(clientBasic(client.clientId, client.secret));
      expect(blocked.status).toBe(429);
      expect(blocked.headers['retry-after']).toBeDefined();
    });
  });

  describe('GET /auth/verify', () => {
    it('after 100 wrong keys for a username from one address, lets the right key through from another address, and answers the first with 401 and Retry-After', async () => {
      const key = await createApiKey(ctx, acme.companyId, 'proxied-user');
      const verify = (from: string, secret: string) =>
        request(ctx.app).get('/auth/verify').set('X-Forwarded-For', from).set('Authorization', basic(key.username, secret));
      for (const wrong of wrongSecrets(key.key, generateApiKey)) expect((await verify('10.0.7.1', wrong)).status).toBe(401);

      const holder = await verify('10.0.7.2', key.key);
      expect(holder.status).toBe(200);
      expect(holder.headers['x-auth-identifier']).toBe('proxied-user');

      // 401 rather than 429: nginx's auth_request turns a 429 into a 500.
      const stranger = await verify('10.0.7.1', key.key);
      expect(stranger.status).toBe(401);
      expect(Number(stranger.headers['retry-after'])).toBeGreaterThan(0);
      expect(stranger.headers['www-authenticate']).toBe('Basic realm="API", Bearer realm="API"');
      expect((stranger.body as ErrorBody).error).toBe('too_many_requests');
      expect(stranger.headers['x-auth-company']).toBeUndefined();
    });

    it('logs no proxy warning when TRUST_PROXY is set', async () => {
      const key = await createApiKey(ctx, acme.companyId, 'trusted-proxy-user');
      expect((await request(ctx.app).get('/auth/verify').set('X-Forwarded-For', '10.0.7.9').set('Authorization', basic(key.username, key.key))).status).toBe(
        200,
      );
      expect(ctx.logs()).not.toContain('TRUST_PROXY is not set');
    });
  });
});

describe('GET /auth/verify behind a proxy while TRUST_PROXY is unset', () => {
  const ctx = createTestContext();
  let acme: SeededUser;
  beforeAll(async () => {
    acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
  });
  afterAll(() => ctx.close());

  it('warns once that every caller shares one throttle, and they do', async () => {
    const key = await createApiKey(ctx, acme.companyId, 'behind-proxy');
    const verify = (from: string, secret: string) =>
      request(ctx.app).get('/auth/verify').set('X-Forwarded-For', from).set('Authorization', basic(key.username, secret));
    for (let i = 0; i < 30; i++) expect((await verify('10.1.0.1', generateApiKey())).status).toBe(401);
    // Another client behind the same proxy is held back by the first one's failures: what the warning is about.
    const other = await verify('10.1.0.2', key.key);
    expect(other.status).toBe(401);
    expect((other.body as ErrorBody).error).toBe('too_many_requests');

    const warnings = ctx
      .logs()
      .split('\n')
      .filter((line) => line.includes('TRUST_PROXY is not set'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0])).toMatchObject({ level: 40, msg: expect.stringContaining('X-Forwarded-For') });
  });
});
