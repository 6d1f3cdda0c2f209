import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { ConfigError, loadConfig } from '../src/config';
import { preparedRead } from '../src/db/prepared';
import { countCredentialsByStatus } from '../src/features/credentials/repo';
import { insertOutboxMessage } from '../src/features/mail/repo';
import type { OutboxState } from '../src/features/mail/repo';
import { LATENCY_BUCKETS, createMetrics } from '../src/metrics/metrics';
import { metricsOnlyApp } from '../src/metrics/routes';
import { createLogger } from '../src/log';
import { ROOT } from '../src/paths';
import { PASSWORD, anonymousAgent, createTestContext, openTestDatabase, seedCompany, signIn } from './helpers';
import type { Agent, TestContext } from './helpers';
import { generateApiKey, generateClient, saveCredential } from './credentials-helpers';
import { parseExposition, sampleValue, scrape } from './support/prometheus-text';

const TOKEN = 'metrics-test-token-0123456789abcdef';
const noMail = { send: () => Promise.resolve(0) };

describe('GET /metrics: the token gate', () => {
  let on: TestContext;
  let off: TestContext;
  beforeAll(() => {
    on = createTestContext({ METRICS_TOKEN: TOKEN }, { mailer: noMail });
    off = createTestContext({}, { mailer: noMail });
  });
  afterAll(async () => {
    await on.close();
    await off.close();
  });

  it('is an unknown page (404, like any other) when METRICS_TOKEN is not set, token or not', async () => {
    const unknown = await request(off.app).get('/no-such-page');
    for (const res of [await request(off.app).get('/metrics'), await request(off.app).get('/metrics').set('Authorization', `Bearer ${TOKEN}`)]) {
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toBe(unknown.headers['content-type']);
      expect(res.text).not.toContain('# TYPE');
    }
  });

  it('answers 401 with a Bearer challenge and a JSON error when no token is sent', async () => {
    const res = await request(on.app).get('/metrics');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({ error: 'unauthorized', error_description: expect.stringContaining('Authorization: Bearer') as unknown });
    expect(res.text).not.toContain('console_');
  });

  it.each([
    ['a wrong token of the same length', `Bearer ${TOKEN.slice(0, -1)}X`],
    ['the token with one more character', `Bearer ${TOKEN}x`],
    ['a prefix of the token', `Bearer ${TOKEN.slice(0, 16)}`],
    ['the token as Basic credentials', `Basic ${Buffer.from(`metrics:${TOKEN}`).toString('base64')}`],
    ['the scheme alone', 'Bearer'],
    ['the token without a scheme', TOKEN],
    ['an empty header', ''],
  ])('answers 401 to %s', async (_label, authorization) => {
    const res = await request(on.app).get('/metrics').set('Authorization', authorization);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    expect((res.body as { error: string }).error).toBe('unauthorized');
    expect(res.text).not.toContain('console_');
  });

  it('answers 200 in the Prometheus text format to the right token, with no session cookie', async () => {
    const res = await request(on.app).get('/metrics').set('Authorization', `Bearer ${TOKEN}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.text).toContain('# TYPE console_platform_requests_total counter');
  });

  it('accepts the scheme in any case, as RFC 7235 allows', async () => {
    const res = await request(on.app).get('/metrics').set('Authorization', `bearer ${TOKEN}`);
    expect(res.status).toBe(200);
  });
});

describe('the METRICS_PORT listener app', () => {
  const metrics = createMetrics({ enabled: true, engine: 'sqlite' });
  const app = metricsOnlyApp(metrics, TOKEN, createLogger('silent'));

  it('serves /metrics with the same token rule', async () => {
    expect((await request(app).get('/metrics')).status).toBe(401);
    const res = await request(app).get('/metrics').set('Authorization', `Bearer ${TOKEN}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain('# TYPE console_build_info gauge');
  });

  it('serves nothing else: every other path is a JSON 404', async () => {
    for (const target of ['/', '/healthz', '/sign-in', '/oauth/token', '/metrics.txt']) {
      const res = await request(app).get(target).set('Authorization', `Bearer ${TOKEN}`);
      expect(res.status).toBe(404);
      expect((res.body as { error: string }).error).toBe('not_found');
    }
  });
});

/** The console_ metrics and their types; a family missing, renamed or retyped fails here. */
const CONSOLE_FAMILIES: Record<string, string> = {
  console_platform_requests_total: 'counter',
  console_platform_request_duration_seconds: 'histogram',
  console_tokens_issued_total: 'counter',
  console_credentials: 'gauge',
  console_sign_ins_total: 'counter',
  console_throttle_refusals_total: 'counter',
  console_outbox_waiting_messages: 'gauge',
  console_outbox_failed_messages: 'gauge',
  console_outbox_oldest_waiting_age_seconds: 'gauge',
  console_db_query_duration_seconds: 'histogram',
  console_build_info: 'gauge',
};

describe('the text format', () => {
  let ctx: TestContext;
  beforeAll(() => {
    ctx = createTestContext({ METRICS_TOKEN: TOKEN }, { mailer: noMail });
  });
  afterAll(() => ctx.close());

  it('has every console_ metric with its HELP and TYPE, and no other console_ metric', async () => {
    const families = await scrape(ctx.app, TOKEN);
    const console = [...families.values()].filter((f) => f.name.startsWith('console_'));
    expect(Object.fromEntries(console.map((f) => [f.name, f.type]))).toEqual(CONSOLE_FAMILIES);
    for (const family of console) expect(family.help).toMatch(/^[A-Z].{10,}\.$/);
  });

  it('has the process defaults: event-loop lag, heap, GC, CPU', async () => {
    const families = await scrape(ctx.app, TOKEN);
    expect(families.get('nodejs_eventloop_lag_p99_seconds')?.type).toBe('gauge');
    expect(families.get('nodejs_heap_size_used_bytes')?.type).toBe('gauge');
    expect(families.get('nodejs_gc_duration_seconds')?.type).toBe('histogram');
    expect(families.get('process_cpu_seconds_total')?.type).toBe('counter');
  });

  it('says which build runs: console_build_info is 1 with the version, engine and Node.js version', async () => {
    const families = await scrape(ctx.app, TOKEN);
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(families.get('console_build_info')!.samples).toEqual([
      { name: 'console_build_info', labels: { version, engine: ctx.engine, node_version: process.versions.node }, value: 1 },
    ]);
  });

  it('times platform requests in buckets fine enough for a 1 ms p99, for every endpoint from the start', async () => {
    const families = await scrape(ctx.app, TOKEN);
    const buckets = families.get('console_platform_request_duration_seconds')!.samples.filter((s) => s.name.endsWith('_bucket'));
    for (const endpoint of ['token', 'me', 'verify', 'introspect', 'revoke', 'jwks']) {
      const bounds = buckets.filter((s) => s.labels.endpoint === endpoint).map((s) => s.labels.le);
      expect(bounds).toEqual([...LATENCY_BUCKETS.map(String), '+Inf']);
    }
    expect(LATENCY_BUCKETS.filter((b) => b < 0.001).length).toBeGreaterThanOrEqual(3);
  });

  it("counts a value equal to a bound in that bound's bucket (le is inclusive), cumulatively, with the sum and count", async () => {
    const metrics = createMetrics({ enabled: true, engine: 'sqlite' });
    for (const seconds of [0.001, 0.0011, 2]) metrics.platform.observe('jwks', 'ok', seconds);
    const families = parseExposition((await metrics.scrape()).body);
    const bucket = (le: string) => sampleValue(families, 'console_platform_request_duration_seconds_bucket', { endpoint: 'jwks', le });
    expect([bucket('0.0005'), bucket('0.001'), bucket('0.0025'), bucket('1'), bucket('+Inf')]).toEqual([0, 1, 2, 2, 3]);
    expect(sampleValue(families, 'console_platform_request_duration_seconds_sum', { endpoint: 'jwks' })).toBeCloseTo(2.0021, 10);
    expect(sampleValue(families, 'console_platform_request_duration_seconds_count', { endpoint: 'jwks' })).toBe(3);
    expect(sampleValue(families, 'console_platform_requests_total', { endpoint: 'jwks', outcome: 'ok' })).toBe(3);
    expect(sampleValue(families, 'console_platform_request_duration_seconds_count', { endpoint: 'me' })).toBe(0);
  });

  it('starts every platform counter series at 0: 6 endpoints x 8 outcomes', async () => {
    const families = await scrape(ctx.app, TOKEN);
    const samples = families.get('console_platform_requests_total')!.samples;
    expect(samples).toHaveLength(48);
  });

  it("gives each app a registry of its own: a sign-in on one app does not move another app's counter", async () => {
    const other = createTestContext({ METRICS_TOKEN: TOKEN }, { mailer: noMail });
    try {
      const before = sampleValue(await scrape(other.app, TOKEN), 'console_sign_ins_total', { outcome: 'invalid_credentials' });
      const agent = await anonymousAgent(ctx.app);
      await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email: 'nobody@registry.test', password: 'not the password' });
      expect(sampleValue(await scrape(ctx.app, TOKEN), 'console_sign_ins_total', { outcome: 'invalid_credentials' })).toBeGreaterThanOrEqual(1);
      expect(sampleValue(await scrape(other.app, TOKEN), 'console_sign_ins_total', { outcome: 'invalid_credentials' })).toBe(before);
    } finally {
      await other.close();
    }
  });
});

describe('sign-in counters', () => {
  let ctx: TestContext;
  const signIns = async (outcome: string) => sampleValue(await scrape(ctx.app, TOKEN), 'console_sign_ins_total', { outcome });
  const refusals = async () => sampleValue(await scrape(ctx.app, TOKEN), 'console_throttle_refusals_total', { throttle: 'sign_in' });
  const post = (agent: Agent, email: string, password: string) => agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email, password });

  beforeAll(async () => {
    ctx = createTestContext({ METRICS_TOKEN: TOKEN }, { mailer: noMail });
    await seedCompany(ctx, 'Signing Co', 'admin@signing.test');
    await seedCompany(ctx, 'Throttled Co', 'admin@throttled.test');
  });
  afterAll(() => ctx.close());

  it('counts a sign-in that works as ok', async () => {
    const before = await signIns('ok');
    await signIn(ctx.app, 'admin@signing.test');
    expect(await signIns('ok')).toBe(before + 1);
  });

  it('counts a wrong password and an unknown address alike, as invalid_credentials', async () => {
    const before = await signIns('invalid_credentials');
    const agent = await anonymousAgent(ctx.app);
    expect((await post(agent, 'admin@signing.test', 'wrong password here')).status).toBe(401);
    expect((await post(agent, 'nobody@signing.test', PASSWORD)).status).toBe(401);
    expect(await signIns('invalid_credentials')).toBe(before + 2);
  });

  it('counts a form that does not validate as bad_request', async () => {
    const before = await signIns('bad_request');
    const agent = await anonymousAgent(ctx.app);
    expect((await post(agent, '', 'x')).status).toBe(422);
    expect(await signIns('bad_request')).toBe(before + 1);
  });

  it('counts a throttled attempt as throttled, and as a refusal of the sign_in throttle', async () => {
    const agent = await anonymousAgent(ctx.app);
    let status = 0;
    for (let i = 0; i < 10 && status !== 429; i++) status = (await post(agent, 'admin@throttled.test', `wrong password ${i}`)).status;
    expect(status).toBe(429);
    const [throttled, refused] = [await signIns('throttled'), await refusals()];
    expect((await post(agent, 'admin@throttled.test', PASSWORD)).status).toBe(429);
    expect(await signIns('throttled')).toBe(throttled + 1);
    expect(await refusals()).toBe(refused + 1);
  });
});

/** What the gauge must say, worked out here from the rows, apart from the SQL the app uses. */
async function expectedCredentials(ctx: TestContext): Promise<Record<string, number>> {
  const now = ctx.clock.now();
  const rows = await ctx.query<{ kind: string; status: string; expires_at: number | null; retires_at: number | null }>(
    'SELECT kind, status, expires_at, retires_at FROM credentials',
  );
  const counts: Record<string, number> = {};
  for (const kind of ['basic', 'oauth']) for (const status of ['active', 'overlap', 'pending', 'revoked', 'expired']) counts[`${kind} ${status}`] = 0;
  for (const row of rows) {
    let status = row.status;
    if (status === 'pending' && Number(row.expires_at) <= now) status = 'expired';
    if (status === 'retiring') status = Number(row.retires_at) <= now ? 'retired' : 'overlap';
    if (status !== 'retired') counts[`${row.kind} ${status}`]++;
  }
  return counts;
}

async function credentialsGauge(ctx: TestContext): Promise<Record<string, number>> {
  const samples = (await scrape(ctx.app, TOKEN)).get('console_credentials')!.samples;
  return Object.fromEntries(samples.map((s) => [`${s.labels.kind} ${s.labels.status}`, s.value]));
}

describe('console_credentials (read at scrape time)', () => {
  let ctx: TestContext;
  beforeEach(() => {
    ctx = createTestContext({ METRICS_TOKEN: TOKEN }, { mailer: noMail });
  });
  afterEach(() => ctx.close());

  it('matches the rows after generate, save with an overlap, and revoke', async () => {
    await seedCompany(ctx, 'Gauge Co', 'admin@gauge.test');
    const admin = await signIn(ctx.app, 'admin@gauge.test');
    const first = await generateApiKey(admin, 'gauge-api');
    expect(await credentialsGauge(ctx)).toMatchObject({ 'basic pending': 1, 'basic active': 0 });
    expect((await saveCredential(admin, 'basic-auth', first.id)).status).toBe(303);
    const second = await generateApiKey(admin, 'gauge-api');
    expect((await saveCredential(admin, 'basic-auth', second.id, '1h')).status).toBe(303);
    const client = await generateClient(admin);
    expect((await saveCredential(admin, 'oauth', client.id)).status).toBe(303);
    const revoked = await admin.post(`/admin/api/credentials/${client.id}/revoke`).type('form').send({ _csrf: admin.csrf, reason: 'leaked in a log' });
    expect(revoked.status).toBe(303);
    await generateClient(admin);

    const gauge = await credentialsGauge(ctx);
    expect(gauge).toEqual(await expectedCredentials(ctx));
    expect(gauge).toMatchObject({ 'basic active': 1, 'basic overlap': 1, 'oauth revoked': 1, 'oauth pending': 1 });
  });

  it('counts a generation past its 30 minutes as expired, and an ended overlap no more, before the sweep writes it', async () => {
    await seedCompany(ctx, 'Lapse Co', 'admin@lapse.test');
    const admin = await signIn(ctx.app, 'admin@lapse.test');
    const first = await generateApiKey(admin, 'lapse-api');
    await saveCredential(admin, 'basic-auth', first.id);
    const second = await generateApiKey(admin, 'lapse-api');
    await saveCredential(admin, 'basic-auth', second.id, '1h');
    await generateClient(admin);
    expect(await credentialsGauge(ctx)).toMatchObject({ 'basic overlap': 1, 'oauth pending': 1, 'oauth expired': 0 });

    ctx.clock.advance(61 * 60 * 1000);
    const gauge = await credentialsGauge(ctx);
    expect(gauge).toMatchObject({ 'basic active': 1, 'basic overlap': 0, 'oauth pending': 0, 'oauth expired': 1 });
    expect(gauge).toEqual(await expectedCredentials(ctx));
    expect(await ctx.column('SELECT status FROM credentials ORDER BY id')).toEqual(['retiring', 'active', 'pending']); // not swept yet
  });

  it('is read as one row per kind and status, not one per credential', async () => {
    await seedCompany(ctx, 'Count Co', 'admin@count.test');
    const admin = await signIn(ctx.app, 'admin@count.test');
    for (let i = 0; i < 3; i++) await generateClient(admin);
    expect(await countCredentialsByStatus(ctx.database, ctx.clock.now())).toEqual([{ kind: 'oauth', status: 'pending', count: 3 }]);
  });
});

describe('the outbox gauges (read at scrape time)', () => {
  let ctx: TestContext;
  beforeEach(() => {
    ctx = createTestContext({ METRICS_TOKEN: TOKEN }, { mailer: noMail });
  });
  afterEach(() => ctx.close());

  const message = (state: OutboxState, now: number) =>
    insertOutboxMessage(ctx.database, { companyId: null, to: 'ops@outbox.test', subject: 'S', text: 'T', html: null, kind: 'test', state, secrets: [], now });
  const outboxGauges = async () => {
    const families = await scrape(ctx.app, TOKEN);
    return {
      waiting: sampleValue(families, 'console_outbox_waiting_messages'),
      failed: sampleValue(families, 'console_outbox_failed_messages'),
      age: sampleValue(families, 'console_outbox_oldest_waiting_age_seconds'),
    };
  };

  it('says 0, 0 and 0 for an empty outbox', async () => {
    expect(await outboxGauges()).toEqual({ waiting: 0, failed: 0, age: 0 });
  });

  it('counts waiting (queued) and failed messages, not sent or kept ones, and ages the oldest waiting one', async () => {
    const start = ctx.clock.now();
    await message('sent', start - 3_600_000);
    await message('kept', start - 3_600_000);
    await message('failed', start - 1_800_000);
    await message('queued', start - 90_000);
    await message('queued', start - 30_000);
    expect(await outboxGauges()).toEqual({ waiting: 2, failed: 1, age: 90 });
    ctx.clock.advance(10_000);
    expect((await outboxGauges()).age).toBe(100);
  });
});

describe('console_db_query_duration_seconds (through ConnectOptions.onQuery)', () => {
  it('times every statement as a read or a write', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-metrics-'));
    const metrics = createMetrics({ enabled: true, engine: 'sqlite' });
    const { connection, drop } = openTestDatabase(path.join(dir, 'console.sqlite'), metrics.onQuery);
    try {
      const count = async (kind: string) => sampleValue(parseExposition((await metrics.scrape()).body), 'console_db_query_duration_seconds_count', { kind });
      const [reads, writes] = [await count('read'), await count('write')];
      await countCredentialsByStatus(connection.db, Date.now());
      await insertOutboxMessage(connection.db, {
        companyId: null,
        to: 'a@b.test',
        subject: 'S',
        text: 'T',
        html: null,
        kind: 'test',
        state: 'kept',
        secrets: [],
        now: 1,
      });
      expect(await count('read')).toBe(reads + 1);
      expect(await count('write')).toBe(writes + 1);
    } finally {
      await connection.close();
      drop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('times the prepared reads of the fast lane too (src/db/prepared.ts: they bypass Kysely and its log)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-metrics-'));
    const metrics = createMetrics({ enabled: true, engine: 'sqlite' });
    const { connection, drop } = openTestDatabase(path.join(dir, 'console.sqlite'), metrics.onQuery);
    try {
      const SLOT = -424242;
      const read = preparedRead(connection.db, connection.db.selectFrom('outbox').select('id').where('id', '=', SLOT), [SLOT]);
      const count = async () => sampleValue(parseExposition((await metrics.scrape()).body), 'console_db_query_duration_seconds_count', { kind: 'read' });
      const before = await count();
      expect(await read(1)).toEqual([]);
      expect(await read(2)).toEqual([]);
      expect(await count()).toBe(before + 2);
      const sum = sampleValue(parseExposition((await metrics.scrape()).body), 'console_db_query_duration_seconds_sum', { kind: 'read' });
      expect(Number.isFinite(sum) && sum > 0).toBe(true); // each read came with its duration
    } finally {
      await connection.close();
      drop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('costs nothing when metrics are off: no onQuery, so Kysely gets no log hook', () => {
    const metrics = createMetrics({ enabled: false, engine: 'sqlite' });
    expect(metrics.onQuery).toBeUndefined();
  });
});

describe('configuration: METRICS_TOKEN and METRICS_PORT', () => {
  const base = { DATA_DIR: os.tmpdir(), SESSION_SECRET: 'x'.repeat(40) };
  const refusal = (env: Record<string, string>): string => {
    try {
      loadConfig({ ...base, ...env });
    } catch (err) {
      if (err instanceof ConfigError) return err.message;
      throw err;
    }
    throw new Error('the configuration was accepted');
  };

  it('takes a token of 16 characters or more, and a port', () => {
    expect(loadConfig({ ...base, METRICS_TOKEN: 'a'.repeat(16), METRICS_PORT: '9464' })).toMatchObject({ metricsToken: 'a'.repeat(16), metricsPort: 9464 });
    expect(loadConfig(base)).toMatchObject({ metricsToken: undefined, metricsPort: undefined });
  });

  it('refuses a token shorter than 16 characters, saying so and never showing it', () => {
    const message = refusal({ METRICS_TOKEN: 'short-secret-15c'.slice(0, 15) });
    expect(message).toContain('METRICS_TOKEN: must be at least 16 characters');
    expect(message).toContain('value not shown');
    expect(message).not.toContain('short-secret');
  });

  it.each(['0', '65536', 'abc', '80.5'])('refuses METRICS_PORT=%s with the range', (port) => {
    expect(refusal({ METRICS_TOKEN: TOKEN, METRICS_PORT: port })).toContain('METRICS_PORT: must be a whole number 1-65535');
  });

  it('refuses METRICS_PORT without METRICS_TOKEN, and METRICS_PORT equal to PORT', () => {
    expect(refusal({ METRICS_PORT: '9464' })).toContain('METRICS_PORT: needs METRICS_TOKEN');
    expect(refusal({ METRICS_TOKEN: TOKEN, METRICS_PORT: '3000', PORT: '3000' })).toContain('METRICS_PORT: must differ from PORT');
  });
});
