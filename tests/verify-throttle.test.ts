import request from 'supertest';
import { HOUR, MINUTE } from '../src/clock';
import { createTestContext, seedCompany } from './helpers';
import { clientBasic, createApiKey, createClient, obtainToken } from './oauth-support';
import type { ErrorBody } from './oauth-support';

const basic = (username: string, key: string) => `Basic ${Buffer.from(`${username}:${key}`).toString('base64')}`;

/** Failed authentication is throttled per source address (30 a minute) and per identifier (10 a minute). */
describe('throttling failed authentication on the platform API', () => {
  // TRUST_PROXY so that X-Forwarded-For gives each request the source address the test chooses.
  const ctx = createTestContext({ TRUST_PROXY: 'true' });
  const acme = seedCompany(ctx.db, 'Acme', 'admin@acme.test');
  afterAll(() => ctx.close());

  it('blocks an API username after 10 failures from anywhere, even with the right key, until the window ends', async () => {
    const key = createApiKey(ctx.db, ctx.clock, acme.companyId, 'guessed-user');
    const other = createApiKey(ctx.db, ctx.clock, seedCompany(ctx.db, 'Other', 'o@other.test').companyId, 'other-user');
    const me = (from: string, k: typeof key, secret = k.key) =>
      request(ctx.app).get('/api/v1/me').set('X-Forwarded-For', from).set('Authorization', basic(k.username, secret));
    for (let i = 0; i < 10; i++) expect((await me(`10.0.1.${i}`, key, other.key)).status).toBe(401);

    const blocked = await me('10.0.2.1', key);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(blocked.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(blocked.body).toEqual({ error: 'too_many_requests', error_description: expect.stringMatching(/^Too many failed authentication attempts/) });
    expect((await me('10.0.2.1', other)).status).toBe(200); // the source itself is not blocked

    ctx.clock.advance(MINUTE + 1000);
    expect((await me('10.0.2.1', key)).status).toBe(200);
  });

  it('blocks a source address after 30 failures, whatever the identifiers, and not the other addresses', async () => {
    const key = createApiKey(ctx.db, ctx.clock, acme.companyId, 'busy-user');
    for (let i = 0; i < 30; i++) {
      const res = await request(ctx.app).get('/api/v1/me').set('X-Forwarded-For', '10.0.3.1').set('Authorization', basic(`made-up-${i}`, key.key));
      expect(res.status).toBe(401);
    }
    const blocked = await request(ctx.app).get('/api/v1/me').set('X-Forwarded-For', '10.0.3.1').set('Authorization', basic(key.username, key.key));
    expect(blocked.status).toBe(429);
    expect(blocked.headers['retry-after']).toBeDefined();
    const elsewhere = await request(ctx.app).get('/api/v1/me').set('X-Forwarded-For', '10.0.3.2').set('Authorization', basic(key.username, key.key));
    expect(elsewhere.status).toBe(200);
    ctx.clock.advance(MINUTE + 1000);
  });

  it('counts forged Bearer tokens per source', async () => {
    for (let i = 0; i < 30; i++) {
      await request(ctx.app).get('/api/v1/me').set('X-Forwarded-For', '10.0.4.1').set('Authorization', 'Bearer a.b.c');
    }
    const res = await request(ctx.app).get('/api/v1/me').set('X-Forwarded-For', '10.0.4.1').set('Authorization', 'Bearer a.b.c');
    expect(res.status).toBe(429);
    ctx.clock.advance(MINUTE + 1000);
  });

  it('does not count a genuine token that merely expired', async () => {
    const client = createClient(ctx.db, ctx.clock, acme.companyId);
    const token = await obtainToken(ctx.app, client);
    ctx.clock.advance(HOUR);
    for (let i = 0; i < 40; i++) {
      const res = await request(ctx.app).get('/api/v1/me').set('X-Forwarded-For', '10.0.5.1').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(401);
    }
    const fresh = await obtainToken(ctx.app, client);
    expect((await request(ctx.app).get('/api/v1/me').set('X-Forwarded-For', '10.0.5.1').set('Authorization', `Bearer ${fresh}`)).status).toBe(200);
  });

  it('throttles the token endpoint per Client ID, with Retry-After and no-store', async () => {
    const client = createClient(ctx.db, ctx.clock, seedCompany(ctx.db, 'Tokens', 't@tokens.test').companyId);
    const ask = (from: string, secret: string) =>
      request(ctx.app)
        .post('/oauth/token')
        .set('X-Forwarded-For', from)
        .set('Authorization', clientBasic(client.clientId, secret))
        .type('form')
        .send({ grant_type: 'client_credentials' });
    for (let i = 0; i < 10; i++) expect((await ask(`10.0.6.${i}`, `${client.secret.slice(0, -2)}zz`)).status).toBe(401);
    const blocked = await ask('10.0.6.99', client.secret);
    expect(blocked.status).toBe(429);
    expect(blocked.headers['retry-after']).toBeDefined();
    expect(blocked.headers['cache-control']).toBe('no-store');
    expect(blocked.headers.pragma).toBe('no-cache');
    expect((blocked.body as ErrorBody).error).toBe('too_many_requests');
    ctx.clock.advance(MINUTE + 1000);
    expect((await ask('10.0.6.99', client.secret)).status).toBe(200);
  });

  it('answers a throttled forward-auth request with 401 and Retry-After (nginx turns a 429 into a 500)', async () => {
    const key = createApiKey(ctx.db, ctx.clock, acme.companyId, 'proxied-user');
    for (let i = 0; i < 10; i++) {
      await request(ctx.app).get('/auth/verify').set('X-Forwarded-For', `10.0.7.${i}`).set('Authorization', basic(key.username, 'wrong'));
    }
    const res = await request(ctx.app).get('/auth/verify').set('X-Forwarded-For', '10.0.7.50').set('Authorization', basic(key.username, key.key));
    expect(res.status).toBe(401);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.headers['www-authenticate']).toBe('Basic realm="API", Bearer realm="API"');
    expect(res.headers['x-auth-company']).toBeUndefined();
    ctx.clock.advance(MINUTE + 1000);
  });
});
