import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { ROOT } from '../src/paths';
import { anonymousAgent, createTestContext, seedCompany, signIn } from './helpers';
import type { TestContext } from './helpers';
import { freePort } from './ops-support';
import { parseExposition } from './support/prometheus-text';

/**
 * A real Prometheus (Debian's prometheus package; scripts/provision-test-tools.js installs it) scrapes
 * the console every second with the bearer token, and answers PromQL over its HTTP API with the
 * counters the console exposes. promtool checks a scrape, the shipped alert rules, and that each
 * rule fires on the series it watches. The dashboard's every query is one Prometheus accepts.
 */
const TOKEN = 'metrics-prometheus-token-0123456789';
const WAIT_MS = 30_000;
const ALERTS = path.join(ROOT, 'deploy', 'prometheus', 'alerts.yml');
const DASHBOARD = path.join(ROOT, 'docs', 'grafana-dashboard.json');

function requireProgram(name: string): void {
  if (spawnSync(name, ['--version']).error) {
    throw new Error(`${name} is not installed: run \`node scripts/provision-test-tools.js\` (it installs Debian's prometheus package, which has ${name})`);
  }
}

let ctx: TestContext;
let server: http.Server;
let prometheus: ChildProcess;
let prometheusUrl: string;
let prometheusOutput = '';
let tmp: string;

beforeAll(async () => {
  requireProgram('prometheus');
  requireProgram('promtool');
  ctx = createTestContext({ METRICS_TOKEN: TOKEN }, { mailer: { send: () => Promise.resolve(0) } });
  await seedCompany(ctx, 'Scraped Co', 'admin@scraped.test');
  server = http.createServer(ctx.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const consolePort = (server.address() as AddressInfo).port;

  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'console-prometheus-'));
  const config = path.join(tmp, 'prometheus.yml');
  fs.writeFileSync(
    config,
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      '  - job_name: console',
      '    authorization:',
      `      credentials: ${TOKEN}`,
      '    static_configs:',
      `      - targets: ['127.0.0.1:${consolePort}']`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  prometheus = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${path.join(tmp, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  prometheus.stdout!.on('data', (d: Buffer) => (prometheusOutput += d.toString()));
  prometheus.stderr!.on('data', (d: Buffer) => (prometheusOutput += d.toString()));
});

afterAll(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((resolve) => prometheus.once('exit', resolve));
    prometheus.kill('SIGTERM');
    await exited;
  }
  await new Promise((resolve) => server?.close(resolve));
  await ctx?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

interface QueryAnswer {
  status: string;
  error?: string;
  data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

async function query(promql: string): Promise<QueryAnswer> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  return (await res.json()) as QueryAnswer;
}

/** Asks Prometheus until `promql` has one result equal to `expected`, or fails after WAIT_MS saying what it last saw. */
async function waitForValue(promql: string, expected: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    try {
      const answer = await query(promql);
      last = JSON.stringify(answer.data?.result ?? answer);
      if (answer.data?.result.length === 1 && answer.data.result[0].value[1] === expected) return;
    } catch (err) {
      last = String(err); // Prometheus is still starting
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(
    `Prometheus did not answer ${expected} to ${promql} within ${WAIT_MS / 1000} s; last answer: ${last}\nPrometheus said:\n${prometheusOutput.slice(-2000)}`,
  );
}

function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { input, encoding: 'utf8', timeout: 20_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('a real Prometheus scraping the console', () => {
  it('scrapes with the token and answers PromQL with the sign-in counters', async () => {
    const agent = await anonymousAgent(ctx.app);
    for (const password of ['wrong password one', 'wrong password two']) {
      await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email: 'admin@scraped.test', password });
    }
    await signIn(ctx.app, 'admin@scraped.test');
    await waitForValue('up{job="console"}', '1');
    await waitForValue('console_sign_ins_total{outcome="invalid_credentials"}', '2');
    await waitForValue('console_sign_ins_total{outcome="ok"}', '1');
    await waitForValue('sum(console_credentials)', '0');
  }, 70_000);

  it('accepts every query of the Grafana dashboard, and each names metrics the console exposes', async () => {
    const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    expect(exprs.length).toBeGreaterThanOrEqual(10);
    const exposed = parseExposition((await request(ctx.app).get('/metrics').set('Authorization', `Bearer ${TOKEN}`)).text);
    const names = new Set([...exposed.values()].flatMap((f) => f.samples.map((s) => s.name)));
    for (const expr of exprs) {
      const metrics = expr.match(/\b(console|nodejs|process)_[a-z0-9_]+\b/g) ?? [];
      expect(metrics.length).toBeGreaterThan(0);
      for (const metric of metrics) expect([expr, names.has(metric)]).toEqual([expr, true]);
      const answer = await query(expr.replace(/\$__rate_interval/g, '1m'));
      expect([expr, answer.status, answer.error]).toEqual([expr, 'success', undefined]);
    }
    const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(' | ');
    for (const topic of ['requests per second', 'p99', 'refusals', 'outbox', 'credentials by status']) expect(titles).toContain(topic);
  }, 60_000);
});

describe('promtool', () => {
  it('check metrics: passes on a scrape of the console', async () => {
    const scrape = await request(ctx.app).get('/metrics').set('Authorization', `Bearer ${TOKEN}`);
    expect(scrape.status).toBe(200);
    const checked = promtool(['check', 'metrics'], scrape.text);
    expect([checked.status, checked.output]).toEqual([0, '']);
  });

  it('check rules: passes on deploy/prometheus/alerts.yml, with the three alerts', () => {
    const checked = promtool(['check', 'rules', ALERTS]);
    expect(checked.status).toBe(0);
    expect(checked.output).toContain('SUCCESS: 3 rules found');
  });

  it('test rules: each alert fires on the series it watches, and not on quiet ones', () => {
    const file = path.join(tmp, 'alerts.test.yml');
    fs.writeFileSync(file, ALERT_TESTS.replace('ALERTS_FILE', ALERTS));
    const tested = promtool(['test', 'rules', file]);
    expect([tested.status, tested.output]).toEqual([0, expect.stringContaining('SUCCESS') as unknown]);
  });
});

/**
 * Unit tests of the alert rules (promtool's format). Series values: 'a+bxn' is a, then n steps of +b,
 * one step per minute. Each alert: quiet series give none, the trouble it names fires it after its `for`.
 */
const ALERT_TESTS = `
rule_files: ['ALERTS_FILE']
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      # verify: 100 requests a minute, all in the 50 ms bucket (slow); me: all under 0.25 ms (fast).
      - series: 'console_platform_request_duration_seconds_bucket{endpoint="verify", le="0.025"}'
        values: '0x40'
      - series: 'console_platform_request_duration_seconds_bucket{endpoint="verify", le="0.05"}'
        values: '0+100x40'
      - series: 'console_platform_request_duration_seconds_bucket{endpoint="verify", le="+Inf"}'
        values: '0+100x40'
      - series: 'console_outbox_oldest_waiting_age_seconds'
        values: '0+60x60'
    alert_rule_test:
      - eval_time: 5m
        alertname: ConsoleVerifyLatencyHigh
        exp_alerts: []
      - eval_time: 20m
        alertname: ConsoleVerifyLatencyHigh
        exp_alerts:
          - exp_labels: { severity: warning }
            exp_annotations:
              summary: '/auth/verify p99 latency is above 25 ms'
              description: 'The 99th percentile of /auth/verify over 5 minutes is 49.75ms. Look at console_db_query_duration_seconds and the event-loop lag (nodejs_eventloop_lag_p99_seconds).'
      - eval_time: 30m
        alertname: ConsoleOutboxStuck
        exp_alerts: []
      - eval_time: 45m
        alertname: ConsoleOutboxStuck
        exp_alerts:
          - exp_labels: { severity: warning }
            exp_annotations:
              summary: 'Mail has been waiting in the outbox for over 30 minutes'
              description: 'The oldest waiting message is 45m 0s old. The operator Outbox page shows the last error of each message.'
  - interval: 1m
    input_series:
      # Two hours at 6 refusals a minute (0.1/s), then 600 a minute (10/s).
      - series: 'console_platform_requests_total{endpoint="me", outcome="revoked"}'
        values: '0+6x120 726+600x30'
      - series: 'console_platform_requests_total{endpoint="me", outcome="ok"}'
        values: '0+6000x150'
    alert_rule_test:
      - eval_time: 110m
        alertname: ConsolePlatformRefusalsSpike
        exp_alerts: []
      - eval_time: 135m
        alertname: ConsolePlatformRefusalsSpike
        exp_alerts:
          - exp_labels: { severity: warning }
            exp_annotations:
              summary: 'Platform API refusals spiked'
              description: '10 refusals per second. sum by (endpoint, outcome) (rate(console_platform_requests_total[5m])) says which: revoked or expired after a rotation, invalid_credentials or throttled for guessing.'
`;
