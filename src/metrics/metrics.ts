import fs from 'node:fs';
import path from 'node:path';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Clock } from '../clock';
import type { Database, Engine } from '../db/connect';
import { countCredentialsByStatus } from '../features/credentials/repo';
import { readOutboxBacklog } from '../features/mail/repo';
import { ROOT } from '../paths';
import { FixedCounter, FixedHistogram } from './fixed-series';
import { CREDENTIAL_KINDS, CREDENTIAL_STATUSES, PLATFORM_ENDPOINTS, PLATFORM_OUTCOMES, SIGN_IN_OUTCOMES, THROTTLES } from './outcomes';
import type { CredentialMetricStatus, PlatformEndpoint, PlatformOutcome, SignInOutcome } from './outcomes';

/** What the platform API reports (src/platform calls these; see docs/operations.md, Metrics). */
export interface PlatformMetrics {
  /** One finished request: its endpoint, its outcome (platformOutcome) and how long it took, in seconds. */
  observe(endpoint: PlatformEndpoint, outcome: PlatformOutcome, seconds: number): void;
  /** One access token issued by the token endpoint. */
  tokenIssued(): void;
  /** One request refused by the platform API's failure throttle (its source was blocked). */
  throttled(): void;
}

export interface Metrics {
  readonly enabled: boolean;
  readonly platform: PlatformMetrics;
  /** One answer of the sign-in form; 'throttled' also counts a refusal of the sign_in throttle. */
  signIn(outcome: SignInOutcome): void;
  /**
   * For ConnectOptions.onQuery (src/db/connect.ts): every statement's duration. Undefined when metrics
   * are off, so that Kysely is given no log hook at all and times nothing.
   */
  readonly onQuery: ((sql: string, durationMs: number) => void) | undefined;
  /** Where the scrape-time gauges (credentials, outbox) read from. */
  watchDatabase(db: Database, clock: Clock): void;
  /** The Prometheus text exposition of every metric, read now. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

export interface MetricsOptions {
  enabled: boolean;
  engine: Engine;
}

/**
 * Fine enough to see a 1 ms p99 (the hot endpoints answer in well under a millisecond on SQLite),
 * wide enough for a slow PostgreSQL round trip.
 */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

const noop = (): void => undefined;

/** Metrics off (no METRICS_TOKEN): every method does nothing, so a request pays one empty call. */
const DISABLED: Metrics = {
  enabled: false,
  platform: { observe: noop, tokenIssued: noop, throttled: noop },
  signIn: noop,
  onQuery: undefined,
  watchDatabase: noop,
  scrape: () => Promise.reject(new Error('metrics are off (METRICS_TOKEN is not set)')),
};

/** Metrics for one app, in a registry of its own (never prom-client's global one: tests build many apps in one process). */
export function createMetrics(options: MetricsOptions): Metrics {
  return options.enabled ? new PrometheusMetrics(options.engine) : DISABLED;
}

/** The version in package.json, for console_build_info. */
function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Each value's position in its list, for the fixed series' slots. */
function indexOf<T extends string>(values: readonly T[]): Record<T, number> {
  return Object.fromEntries(values.map((value, i) => [value, i])) as Record<T, number>;
}

/** Statements that only read; everything else (INSERT, UPDATE, DELETE, BEGIN, COMMIT, ...) is a write. */
const READ_STATEMENT = /^\s*(select|with)\b/i;

interface DatabaseReading {
  credentials: { kind: string; status: CredentialMetricStatus; count: number }[];
  outbox: { waiting: number; failed: number; oldestWaitingAgeSeconds: number };
}

/** The table's statuses as the metric names them; `retired` (replaced by a newer credential) is history and not counted. */
const STATUS_LABEL: Record<string, CredentialMetricStatus | undefined> = {
  active: 'active',
  retiring: 'overlap',
  pending: 'pending',
  revoked: 'revoked',
  expired: 'expired',
};

class PrometheusMetrics implements Metrics {
  readonly enabled = true;
  readonly platform: PlatformMetrics;
  readonly onQuery: (sql: string, durationMs: number) => void;
  private readonly registry = new Registry();
  private readonly signIns: Record<SignInOutcome, () => void>;
  private readonly signInThrottled: () => void;
  private database?: { db: Database; clock: Clock };
  /** One database reading per scrape, shared by the gauges that show it. */
  private reading?: Promise<DatabaseReading | undefined>;

  constructor(engine: Engine) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // prom-client names three gauges *_total, which promtool's lint refuses (a _total is a counter); the same
    // numbers stay, by type, in nodejs_active_handles, nodejs_active_requests and nodejs_active_resources.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);

    // The hot path (every platform request, every statement): fixed series in typed arrays (fixed-series.ts).
    // Every series exists from the start at 0, so rate() sees the first increase and a dashboard shows every label value.
    const requests = new FixedCounter(
      'console_platform_requests_total',
      'Platform API requests by endpoint and outcome.',
      PLATFORM_ENDPOINTS.flatMap((endpoint) => PLATFORM_OUTCOMES.map((outcome) => ({ endpoint, outcome }))),
    ).register(this.registry);
    const durations = new FixedHistogram(
      'console_platform_request_duration_seconds',
      'Platform API request duration in seconds, by endpoint.',
      LATENCY_BUCKETS,
      PLATFORM_ENDPOINTS.map((endpoint) => ({ endpoint })),
    ).register(this.registry);
    const queries = new FixedHistogram(
      'console_db_query_duration_seconds',
      'Database statement duration in seconds (read: statements that only read; write: all others, transactions included).',
      LATENCY_BUCKETS,
      [{ kind: 'read' }, { kind: 'write' }],
    ).register(this.registry);
    const endpointIndex = indexOf(PLATFORM_ENDPOINTS);
    const outcomeIndex = indexOf(PLATFORM_OUTCOMES);
    const outcomes = PLATFORM_OUTCOMES.length;

    const tokens = new Counter({ name: 'console_tokens_issued_total', help: 'Access tokens issued by the token endpoint.', registers });
    const throttled = new Counter({
      name: 'console_throttle_refusals_total',
      help: 'Requests refused by a failure throttle (sign_in: the sign-in form; platform: the platform API).',
      labelNames: ['throttle'] as const,
      registers,
    });
    const signIns = new Counter({ name: 'console_sign_ins_total', help: 'Sign-in form answers by outcome.', labelNames: ['outcome'] as const, registers });
    new Gauge({
      name: 'console_build_info',
      help: 'Always 1; the labels say which build runs on which engine and Node.js.',
      labelNames: ['version', 'engine', 'node_version'] as const,
      registers,
    }).set({ version: packageVersion(), engine, node_version: process.versions.node }, 1);

    for (const throttle of THROTTLES) throttled.labels(throttle).inc(0);
    const platformThrottled = throttled.labels('platform');
    this.signInThrottled = () => throttled.labels('sign_in').inc();
    this.platform = {
      observe: (endpoint, outcome, seconds) => {
        const e = endpointIndex[endpoint];
        requests.inc(e * outcomes + outcomeIndex[outcome]);
        durations.observe(e, seconds);
      },
      tokenIssued: () => tokens.inc(),
      throttled: () => platformThrottled.inc(),
    };

    this.signIns = {} as Record<SignInOutcome, () => void>;
    for (const outcome of SIGN_IN_OUTCOMES) {
      const child = signIns.labels(outcome);
      child.inc(0);
      this.signIns[outcome] = () => child.inc();
    }

    this.onQuery = (sql, durationMs) => queries.observe(READ_STATEMENT.test(sql) ? 0 : 1, durationMs / 1000);

    this.registerDatabaseGauges();
  }

  signIn(outcome: SignInOutcome): void {
    this.signIns[outcome]();
    if (outcome === 'throttled') this.signInThrottled();
  }

  watchDatabase(db: Database, clock: Clock): void {
    this.database = { db, clock };
  }

  async scrape(): Promise<{ contentType: string; body: string }> {
    this.reading = this.readDatabase();
    this.reading.catch(noop); // the gauges' collect() awaits it and fails the scrape; this only keeps Node from calling it unhandled
    try {
      return { contentType: this.registry.contentType, body: await this.registry.metrics() };
    } finally {
      this.reading = undefined;
    }
  }

  /** Two queries per scrape, whatever the number of rows: one grouped count of credentials, one of the outbox. */
  private async readDatabase(): Promise<DatabaseReading | undefined> {
    if (!this.database) return undefined;
    const { db, clock } = this.database;
    const now = clock.now();
    const [rows, outbox] = await Promise.all([countCredentialsByStatus(db, now), readOutboxBacklog(db)]);
    const credentials = rows.flatMap((row) => {
      const status = STATUS_LABEL[row.status];
      return status ? [{ kind: row.kind, status, count: row.count }] : [];
    });
    const oldest = outbox.oldestWaitingCreatedAt;
    return {
      credentials,
      outbox: { waiting: outbox.waiting, failed: outbox.failed, oldestWaitingAgeSeconds: oldest === null ? 0 : Math.max(0, (now - oldest) / 1000) },
    };
  }

  private registerDatabaseGauges(): void {
    const registers = [this.registry];
    const read = async (): Promise<DatabaseReading | undefined> => (this.reading ??= this.readDatabase()); // one reading per scrape
    new Gauge({
      name: 'console_credentials',
      help: 'Credentials by kind and status (overlap: a replaced credential still working until its window ends; expired: generated and never saved).',
      labelNames: ['kind', 'status'] as const,
      registers,
      async collect() {
        const reading = await read();
        if (!reading) return;
        for (const kind of CREDENTIAL_KINDS) for (const status of CREDENTIAL_STATUSES) this.set({ kind, status }, 0);
        for (const row of reading.credentials) this.inc({ kind: row.kind, status: row.status }, row.count);
      },
    });
    const outboxGauge = (name: string, help: string, pick: (outbox: DatabaseReading['outbox']) => number) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          const reading = await read();
          if (reading) this.set(pick(reading.outbox));
        },
      });
    outboxGauge('console_outbox_waiting_messages', 'Mail outbox messages waiting to be sent (queued).', (o) => o.waiting);
    outboxGauge('console_outbox_failed_messages', 'Mail outbox messages whose sending failed for good (they wait for an operator to retry).', (o) => o.failed);
    outboxGauge(
      'console_outbox_oldest_waiting_age_seconds',
      'Age in seconds of the oldest message waiting to be sent; 0 when none waits.',
      (o) => o.oldestWaitingAgeSeconds,
    );
  }
}
