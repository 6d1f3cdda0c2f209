import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { ROOT } from '../src/paths';
import { createTestContext, csrfFrom } from './helpers';
import type { TestContext } from './helpers';
import { AUTH_CORPUS, CORPUS } from './support/hostile-corpus';
import type { Hostile } from './support/hostile-corpus';
import { scrape } from './support/prometheus-text';
import type { Family } from './support/prometheus-text';
import { seedWorld } from './world';
import type { World } from './world';

/**
 * No label value of the console's metrics comes from what a caller sends: the hostile-input corpus
 * (tests/support/hostile-corpus.ts) goes to the sign-in form and to every platform endpoint, then
 * every label value of every console_ series must be one of its fixed set, and no series appeared.
 * The sets are spelled out here, apart from src/metrics, so that a new label value shows up as a diff.
 */
const TOKEN = 'metrics-hostile-token-0123456789';
const BUCKETS = ['0.0001', '0.00025', '0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '1', '+Inf'];
const ENDPOINTS = ['token', 'me', 'verify', 'introspect', 'revoke', 'jwks'];
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const ALLOWED: Record<string, Record<string, string[]>> = {
  console_platform_requests_total: {
    endpoint: ENDPOINTS,
    outcome: ['ok', 'invalid_credentials', 'expired', 'revoked', 'insufficient_scope', 'throttled', 'bad_request', 'error'],
  },
  console_platform_request_duration_seconds: { endpoint: ENDPOINTS, le: BUCKETS },
  console_tokens_issued_total: {},
  console_credentials: { kind: ['basic', 'oauth'], status: ['active', 'overlap', 'pending', 'revoked', 'expired'] },
  console_sign_ins_total: { outcome: ['ok', 'invalid_credentials', 'throttled', 'bad_request'] },
  console_throttle_refusals_total: { throttle: ['sign_in', 'platform'] },
  console_outbox_waiting_messages: {},
  console_outbox_failed_messages: {},
  console_outbox_oldest_waiting_age_seconds: {},
  console_db_query_duration_seconds: { kind: ['read', 'write'], le: BUCKETS },
  console_build_info: { version: [VERSION], engine: ['sqlite', 'postgres'], node_version: [process.versions.node] },
};

/** Every label of every console_ sample that is not in its allowed set, as "metric label=value". */
function strayLabels(families: Map<string, Family>): string[] {
  const stray: string[] = [];
  for (const family of [...families.values()].filter((f) => f.name.startsWith('console_'))) {
    const allowed = ALLOWED[family.name];
    if (!allowed) {
      stray.push(`${family.name} (a metric with no allowed set)`);
      continue;
    }
    for (const sample of family.samples)
      for (const [label, value] of Object.entries(sample.labels))
        if (!allowed[label]?.includes(value)) stray.push(`${family.name} ${label}=${JSON.stringify(value)}`);
  }
  return stray;
}

const consoleSeries = (families: Map<string, Family>): number =>
  [...families.values()].filter((f) => f.name.startsWith('console_')).reduce((n, f) => n + f.samples.length, 0);

/** One request written on a socket as given (raw bytes reach the server as they are); resolves with the status, 0 when none. */
function send(port: number, method: string, target: Buffer, headers: [string, string | Buffer][], body?: Buffer): Promise<number> {
  const head: Buffer[] = [Buffer.from(`${method} `), target, Buffer.from(` HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n`)];
  for (const [name, value] of headers) head.push(Buffer.from(`${name}: `), Buffer.isBuffer(value) ? value : Buffer.from(value, 'latin1'), Buffer.from('\r\n'));
  if (body) head.push(Buffer.from(`Content-Length: ${body.length}\r\n`));
  head.push(Buffer.from('\r\n'));
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined); // a refused oversize body may reset the connection: the status already came
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(Buffer.concat(chunks).toString('latin1'))?.[1] ?? 0)));
    socket.write(Buffer.concat(body ? [...head, body] : head));
  });
}

const encoded = (v: Hostile): Buffer => v.raw ?? Buffer.from(encodeURIComponent(v.text!));
const field = (name: string, value: Hostile | string): Buffer[] => [
  Buffer.from(`${name}=`),
  typeof value === 'string' ? Buffer.from(encodeURIComponent(value)) : encoded(value),
];
const form = (...fields: Buffer[][]): Buffer => Buffer.concat(fields.flatMap((f, i) => (i ? [Buffer.from('&'), ...f] : f)));
const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
const FORM = ['Content-Type', 'application/x-www-form-urlencoded'] as [string, string];

describe('metrics under the hostile-input corpus', () => {
  let ctx: TestContext;
  let world: World;
  let server: http.Server;
  let port: number;

  beforeAll(async () => {
    ctx = createTestContext({ METRICS_TOKEN: TOKEN }, { mailer: { send: () => Promise.resolve(0) } });
    world = await seedWorld(ctx);
    server = http.createServer(ctx.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await ctx.close();
  });

  it('keeps every label value of every console_ metric within its fixed set, and adds no series', async () => {
    const before = await scrape(ctx.app, TOKEN);
    expect(strayLabels(before)).toEqual([]);
    const statuses = new Set<number>();
    const note = (status: number) => statuses.add(status);

    // The sign-in form: each value as the email and as the password.
    const page = await fetch(`http://127.0.0.1:${port}/sign-in`);
    const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0];
    const csrf = csrfFrom(await page.text());
    for (const value of CORPUS) {
      const body = form(field('_csrf', csrf), field('email', value), field('password', value));
      note(await send(port, 'POST', Buffer.from('/sign-in'), [FORM, ['Cookie', cookie]], body));
    }

    // The platform API's parameters, with a working client or token: a scope to require, a grant type and a scope to ask for.
    const client = basic(world.secrets.clientId, world.secrets.clientSecret);
    const tokenRes = await fetch(`http://127.0.0.1:${port}/oauth/token`, {
      method: 'POST',
      headers: { Authorization: client, 'Content-Type': FORM[1] },
      body: 'grant_type=client_credentials',
    });
    const accessToken = ((await tokenRes.json()) as { access_token: string }).access_token;
    for (const value of CORPUS.filter((v) => !v.bodyOnly)) {
      note(await send(port, 'GET', Buffer.concat([Buffer.from('/auth/verify?scope='), encoded(value)]), [['Authorization', `Bearer ${accessToken}`]]));
      note(await send(port, 'GET', Buffer.concat([Buffer.from('/api/v1/me?'), encoded(value)]), [['Authorization', `Bearer ${accessToken}`]]));
    }
    for (const value of CORPUS) {
      note(await send(port, 'POST', Buffer.from('/oauth/token'), [FORM, ['Authorization', client]], form(field('grant_type', value))));
      note(
        await send(
          port,
          'POST',
          Buffer.from('/oauth/token'),
          [FORM, ['Authorization', client]],
          form(field('grant_type', 'client_credentials'), field('scope', value)),
        ),
      );
      note(await send(port, 'POST', Buffer.from('/oauth/introspect'), [FORM, ['Authorization', client]], form(field('token', value))));
      note(await send(port, 'POST', Buffer.from('/oauth/revoke'), [FORM, ['Authorization', client]], form(field('token', value))));
    }

    // The Authorization header on every endpoint that reads it (last: its guesses end in the failure throttle).
    const targets: [string, string][] = [
      ['GET', '/api/v1/me'],
      ['GET', '/auth/verify'],
      ['POST', '/oauth/token'],
      ['POST', '/oauth/introspect'],
      ['POST', '/oauth/revoke'],
      ['GET', '/.well-known/jwks.json'],
    ];
    for (const entry of AUTH_CORPUS) {
      const values = entry.values.map((v) => (v === 'CLIENT_SECRET_AS_KEY' ? basic('company-a-api', world.secrets.clientSecret) : v));
      for (const [method, target] of targets) {
        const body = method === 'POST' ? Buffer.from('grant_type=client_credentials&token=x') : undefined;
        note(
          await send(port, method, Buffer.from(target), [...(body ? [FORM] : []), ...values.map((v): [string, string | Buffer] => ['Authorization', v])], body),
        );
      }
    }

    const after = await scrape(ctx.app, TOKEN);
    expect(strayLabels(after)).toEqual([]);
    expect(consoleSeries(after)).toBe(consoleSeries(before));
    expect(statuses.has(0)).toBe(false); // every request was answered, so each reached the code that counts it
  });
});
