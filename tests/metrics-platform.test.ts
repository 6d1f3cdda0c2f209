import request from 'supertest';
import { AuditLog, SYSTEM_ACTOR } from '../src/features/audit/service';
import { generateApiKeyFor, revokeCredential, saveCredential } from '../src/features/credentials/service';
import { createTestContext, mistyped, seedCompany } from './helpers';
import type { TestContext } from './helpers';
import { sampleValue, scrape } from './support/prometheus-text';
import { seedWorld } from './world';
import type { World } from './world';

/**
 * The platform API's counters, by endpoint and outcome. The platform calls metrics.platform.observe()
 * (src/metrics/metrics.ts) once per request; these tests show each endpoint's answers land under the
 * right labels, as an operator's dashboard reads them.
 */
const TOKEN = 'metrics-platform-token-0123456789';
const noMail = { send: () => Promise.resolve(0) };

let ctx: TestContext;
let world: World;

const requests = async (endpoint: string, outcome: string) =>
  sampleValue(await scrape(ctx.app, TOKEN), 'console_platform_requests_total', { endpoint, outcome });
const timed = async (endpoint: string) => sampleValue(await scrape(ctx.app, TOKEN), 'console_platform_request_duration_seconds_count', { endpoint });

/** How much `series` moved while `act` ran. */
async function moved(series: () => Promise<number>, act: () => Promise<unknown>): Promise<number> {
  const before = await series();
  await act();
  return (await series()) - before;
}

const tokenRequest = (clientId: string, secret: string, form: Record<string, string> = { grant_type: 'client_credentials' }) =>
  request(ctx.app).post('/oauth/token').auth(clientId, secret).type('form').send(form);

async function accessToken(scope?: string): Promise<string> {
  const res = await tokenRequest(world.secrets.clientId, world.secrets.clientSecret, { grant_type: 'client_credentials', ...(scope ? { scope } : {}) });
  expect(res.status).toBe(200);
  return (res.body as { access_token: string }).access_token;
}

beforeAll(async () => {
  ctx = createTestContext({ METRICS_TOKEN: TOKEN }, { mailer: noMail });
  world = await seedWorld(ctx);
});
afterAll(() => ctx.close());

describe('POST /oauth/token', () => {
  it('counts a token issued as token/ok, in console_tokens_issued_total, and times it', async () => {
    const issued = async () => sampleValue(await scrape(ctx.app, TOKEN), 'console_tokens_issued_total');
    const [ok, tokens, durations] = [await requests('token', 'ok'), await issued(), await timed('token')];
    expect((await tokenRequest(world.secrets.clientId, world.secrets.clientSecret)).status).toBe(200);
    expect(await requests('token', 'ok')).toBe(ok + 1);
    expect(await issued()).toBe(tokens + 1);
    expect(await timed('token')).toBe(durations + 1);
  });

  it('counts a wrong client secret as token/invalid_credentials', async () => {
    const delta = await moved(
      () => requests('token', 'invalid_credentials'),
      () => tokenRequest(world.secrets.clientId, mistyped(world.secrets.clientSecret)),
    );
    expect(delta).toBe(1);
  });

  it('counts an unsupported grant type as token/bad_request', async () => {
    const delta = await moved(
      () => requests('token', 'bad_request'),
      () => tokenRequest(world.secrets.clientId, world.secrets.clientSecret, { grant_type: 'password' }),
    );
    expect(delta).toBe(1);
  });
});

describe('GET /api/v1/me', () => {
  it('counts a working API key and a working access token as me/ok', async () => {
    const token = await accessToken();
    const delta = await moved(
      () => requests('me', 'ok'),
      async () => {
        expect((await request(ctx.app).get('/api/v1/me').auth('company-a-api', world.secrets.apiKey)).status).toBe(200);
        expect((await request(ctx.app).get('/api/v1/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
      },
    );
    expect(delta).toBe(2);
  });

  it('counts a wrong API key, and no credentials at all, as me/invalid_credentials', async () => {
    const delta = await moved(
      () => requests('me', 'invalid_credentials'),
      async () => {
        expect((await request(ctx.app).get('/api/v1/me').auth('company-a-api', mistyped(world.secrets.apiKey))).status).toBe(401);
        expect((await request(ctx.app).get('/api/v1/me')).status).toBe(401);
      },
    );
    expect(delta).toBe(2);
  });

  it('counts a revoked API key as me/revoked', async () => {
    const company = await seedCompany(ctx, 'Revoked Co', 'admin@revoked.test');
    const deps = { db: ctx.database, clock: ctx.clock, audit: new AuditLog(ctx.database, ctx.clock), mailer: noMail };
    const key = await generateApiKeyFor(deps, company.companyId, 'revoked-co-api', SYSTEM_ACTOR);
    await saveCredential(deps, company.companyId, 'basic', key.credential.id, 'none', SYSTEM_ACTOR);
    await revokeCredential(deps, company.companyId, key.credential.id, 'leaked', SYSTEM_ACTOR);
    const delta = await moved(
      () => requests('me', 'revoked'),
      async () => expect((await request(ctx.app).get('/api/v1/me').auth('revoked-co-api', key.secret)).status).toBe(401),
    );
    expect(delta).toBe(1);
  });
});

describe('GET /auth/verify', () => {
  it('counts a caller with the scope as verify/ok, and times it', async () => {
    const token = await accessToken();
    const [ok, durations] = [await requests('verify', 'ok'), await timed('verify')];
    expect((await request(ctx.app).get('/auth/verify?scope=claims:read').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(await requests('verify', 'ok')).toBe(ok + 1);
    expect(await timed('verify')).toBe(durations + 1);
  });

  it('counts a caller without the scope as verify/insufficient_scope', async () => {
    const token = await accessToken('claims:read');
    const delta = await moved(
      () => requests('verify', 'insufficient_scope'),
      async () => expect((await request(ctx.app).get('/auth/verify?scope=claims:write').set('Authorization', `Bearer ${token}`)).status).toBe(403),
    );
    expect(delta).toBe(1);
  });
});

describe('introspection, revocation and the JWKS', () => {
  it('counts POST /oauth/introspect and POST /oauth/revoke as introspect/ok and revoke/ok', async () => {
    const token = await accessToken();
    const post = (path: string) => request(ctx.app).post(path).auth(world.secrets.clientId, world.secrets.clientSecret).type('form').send({ token });
    expect(
      await moved(
        () => requests('introspect', 'ok'),
        async () => expect((await post('/oauth/introspect')).status).toBe(200),
      ),
    ).toBe(1);
    expect(
      await moved(
        () => requests('revoke', 'ok'),
        async () => expect((await post('/oauth/revoke')).status).toBe(200),
      ),
    ).toBe(1);
  });

  it('counts GET /.well-known/jwks.json as jwks/ok', async () => {
    const delta = await moved(
      () => requests('jwks', 'ok'),
      async () => expect((await request(ctx.app).get('/.well-known/jwks.json')).status).toBe(200),
    );
    expect(delta).toBe(1);
  });
});

describe('the failure throttle', () => {
  it('counts a throttled request as throttled, and as a refusal of the platform throttle', async () => {
    // A context of its own: the guesses below block this source for every later request.
    const throttled = createTestContext({ METRICS_TOKEN: TOKEN }, { mailer: noMail });
    try {
      const series = async () => {
        const families = await scrape(throttled.app, TOKEN);
        return [
          sampleValue(families, 'console_platform_requests_total', { endpoint: 'me', outcome: 'throttled' }),
          sampleValue(families, 'console_throttle_refusals_total', { throttle: 'platform' }),
        ];
      };
      let status = 0;
      for (let i = 0; i < 40 && status !== 429; i++) status = (await request(throttled.app).get('/api/v1/me').auth('nobody-api', `guess-${i}`)).status;
      expect(status).toBe(429);
      const before = await series();
      expect((await request(throttled.app).get('/api/v1/me').auth('nobody-api', 'one more guess')).status).toBe(429);
      expect(await series()).toEqual([before[0] + 1, before[1] + 1]);
    } finally {
      await throttled.close();
    }
  });
});
