import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import bcrypt from 'bcrypt';
import request from 'supertest';
import type { Express } from 'express';
import { createApp } from '../src/app';
import { closeApp } from '../src/lifecycle';
import type { AppDeps } from '../src/app';
import { FakeClock } from '../src/clock';
import type { Config } from '../src/config';
import { loadConfig } from '../src/config';
import { CompiledQuery } from 'kysely';
import { connect, wrapSqlite } from '../src/db/connect';
import type { Connection, Database, Engine, QueryObserver } from '../src/db/connect';
import { migrateSqlite } from '../src/db/migrate';
import { openDatabase } from '../src/db/open';
import { fastLaneOf } from '../src/db/prepared';
import type { Db } from '../src/db/open';
import { postgresBinDir, runningCluster, TEMPLATE_DATABASE } from './support/postgres';
import { createLogger } from '../src/log';
import * as authRepo from '../src/features/auth/repo';
import { INVITATION_TTL_MS } from '../src/features/auth/service';
import { randomToken, sha256 } from '../src/crypto';
import { createCompanyGrantingAllScopes } from '../src/features/companies/service';

export const PASSWORD = 'correct horse battery staple';

/** The same secret with its last character changed to another base62 character: the right shape, never the right secret. */
export const mistyped = (secret: string): string => secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');
const PASSWORD_HASH = bcrypt.hashSync(PASSWORD, 10);

/** Which engine this run's tests use: SQLite unless TEST_ENGINE=postgres (see tests/support/global-setup.ts). */
export const TEST_ENGINE: Engine = process.env.TEST_ENGINE === 'postgres' ? 'postgres' : 'sqlite';

export interface TestContext {
  app: Express;
  /** The SQLite handle, for modules and tests not yet moved to Kysely; on PostgreSQL every use throws. */
  db: Db;
  /** The database, on this run's engine. */
  database: Database;
  engine: Engine;
  /** Rows of a raw SQL query with `?` placeholders, on either engine (for tests that look at tables directly). */
  query: <T = Record<string, unknown>>(text: string, ...params: unknown[]) => Promise<T[]>;
  /** The first column of the first row of a raw SQL query (undefined when no row): a count, an id, one value. */
  value: <T = unknown>(text: string, ...params: unknown[]) => Promise<T | undefined>;
  /** The first column of every row. */
  column: <T = unknown>(text: string, ...params: unknown[]) => Promise<T[]>;
  /** For a server process the test starts on this context's database: DATABASE_URL on PostgreSQL, nothing on SQLite (DATA_DIR's file). */
  databaseEnv: { DATABASE_URL?: string };
  /**
   * Everything the database holds, as bytes, for scanning for a secret: the SQLite file and its WAL, or on
   * PostgreSQL a plain pg_dump of the context's database.
   */
  storedBytes: () => Buffer[];
  /** How many INSERT, UPDATE and DELETE statements the app's database has run so far, on either engine. */
  writes: () => number;
  /** Every table's rows (migrations' own table aside), each table's rows in a fixed order: for "nothing changed" checks on either engine. */
  snapshot: () => Promise<Record<string, Record<string, unknown>[]>>;
  /** A second connection to the same database, as another server process would hold (the caller closes it). */
  openAnother: () => Connection;
  clock: FakeClock;
  config: Config;
  dataDir: string;
  /** Everything the app logged, as one string (for scanning for secrets). */
  logs: () => string;
  close: () => Promise<void>;
}

let databaseCounter = 0;

/** A fresh, migrated database for one test context: a SQLite file in dataDir, or a copy of the PostgreSQL template. */
export function openTestDatabase(
  databaseFile: string,
  onQuery?: QueryObserver,
): { connection: Connection; another: () => Connection; drop: () => void; url?: string } {
  const cluster = runningCluster();
  if (TEST_ENGINE !== 'postgres') {
    const raw = openDatabase(databaseFile);
    migrateSqlite(raw);
    return { connection: wrapSqlite(raw, onQuery), another: () => wrapSqlite(openDatabase(databaseFile)), drop: () => undefined };
  }
  if (!cluster) throw new Error('TEST_ENGINE=postgres needs the cluster that tests/support/global-setup.ts starts (run the suite through jest)');
  // Each test file has its own module registry (and counter): the random part keeps names apart across files.
  const name = `t${process.pid}_${randomBytes(4).toString('hex')}_${++databaseCounter}`;
  cluster.psql(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DATABASE}`);
  const open = () => connect({ databaseUrl: cluster.url(name), databaseFile: '', poolSize: 5 });
  return {
    connection: connect({ databaseUrl: cluster.url(name), databaseFile: '', poolSize: 5, onQuery }),
    another: open,
    drop: () => void cluster.psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
    url: cluster.url(name),
  };
}

/** On PostgreSQL there is no SQLite handle: a test or module that still reaches for one fails and says so. */
const NO_SQLITE = new Proxy({} as Db, {
  get() {
    throw new Error(
      'This code still uses the SQLite handle (ctx.db / deps.db as better-sqlite3); it has not moved to Kysely yet, so it cannot run on PostgreSQL.',
    );
  },
});

function positional(text: string, engine: Engine): string {
  if (engine === 'sqlite') return text;
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}

/** A fresh data directory, migrated database, fake clock and captured log for one test file or test. */
export function createTestContext(env: Record<string, string> = {}, overrides: Partial<AppDeps> = {}): TestContext {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-test-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    SESSION_SECRET: 'test-session-secret-that-is-long-enough-0123456789',
    BCRYPT_COST: '10',
    LOG_LEVEL: 'info',
    PUBLIC_URL: 'http://127.0.0.1:3000',
    ...env,
  });
  let writes = 0;
  const { connection, another, drop, url } = openTestDatabase(config.databaseFile, (sql) => {
    if (/^\s*(insert|update|delete|replace)\b/i.test(sql)) writes++;
  });
  const db = connection.sqlite ?? NO_SQLITE;
  const database = connection.db;
  const clock = new FakeClock(Date.UTC(2026, 10, 1, 9, 0, 0));
  let captured = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      captured += chunk.toString();
      cb();
    },
  });
  const logger = createLogger('debug', sink);
  const app = createApp({ config, database, clock, logger, ...overrides });
  const query = async <T>(text: string, ...params: unknown[]): Promise<T[]> =>
    (await database.executeQuery(CompiledQuery.raw(positional(text, connection.engine), params))).rows as T[];
  const snapshot = async (): Promise<Record<string, Record<string, unknown>[]>> => {
    const tables =
      connection.engine === 'postgres'
        ? await query<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name")
        : await query<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
    const result: Record<string, Record<string, unknown>[]> = {};
    for (const { name } of tables.filter((t) => t.name !== 'schema_migrations')) {
      const rows = await query<Record<string, unknown>>(`SELECT * FROM "${name}"`);
      result[name] = rows
        .map((row) => [JSON.stringify(row), row] as const)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([, row]) => row);
    }
    return result;
  };
  return {
    app,
    db,
    database,
    snapshot,
    writes: () => writes,
    storedBytes: () =>
      url
        ? [execFileSync(path.join(postgresBinDir(), 'pg_dump'), ['--data-only', url], { maxBuffer: 64 * 1024 * 1024 })]
        : [config.databaseFile, `${config.databaseFile}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)),
    databaseEnv: url ? { DATABASE_URL: url } : {},
    engine: connection.engine,
    openAnother: another,
    value: async <T>(text: string, ...params: unknown[]) => {
      const [row] = await query<Record<string, unknown>>(text, ...params);
      return row === undefined ? undefined : (Object.values(row)[0] as T);
    },
    column: async <T>(text: string, ...params: unknown[]) => (await query<Record<string, unknown>>(text, ...params)).map((row) => Object.values(row)[0] as T),
    query,
    clock,
    config,
    dataDir,
    logs: () => captured,
    close: async () => {
      await closeApp(app);
      await connection.close();
      drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface SeededUser {
  companyId: number;
  userId: number;
  email: string;
}

/** What seeding needs of a test context (a TestContext has it). */
export interface Seedable {
  db: Db;
  database: Database;
}

/** A company with one administrator (password PASSWORD), written straight to the database (either engine). */
export async function seedCompany(ctx: Seedable, name: string, email: string, options: { operator?: boolean } = {}): Promise<SeededUser> {
  const companyId = await createCompanyGrantingAllScopes({ db: ctx.database }, name, SEEDED_AT);
  return seedUser(ctx, companyId, email, options);
}

export async function seedUser(ctx: Seedable, companyId: number, email: string, options: { operator?: boolean } = {}): Promise<SeededUser> {
  const userId = await authRepo.createUser(ctx.database, { companyId, email, passwordHash: PASSWORD_HASH, isOperator: options.operator ?? false }, SEEDED_AT);
  return { companyId, userId, email };
}

const SEEDED_AT = Date.UTC(2026, 10, 1);

/**
 * Transitional, SQLite only: seeding at describe level, for the test files whose modules have not moved to
 * Kysely yet (decision 0011). Each goes when its file seeds in beforeAll with `await seedCompany`. The same
 * rows as seedCompany/seedUser, written on the SQLite handle (the repos they use are async now).
 */
export function seedCompanySync(ctx: Seedable, name: string, email: string, options: { operator?: boolean } = {}): SeededUser {
  const companyId = Number(ctx.db.prepare('INSERT INTO companies (name, created_at) VALUES (?, ?)').run(name, SEEDED_AT).lastInsertRowid);
  ctx.db.prepare('INSERT OR IGNORE INTO company_scopes (company_id, scope) SELECT ?, name FROM scopes').run(companyId);
  return seedUserSync(ctx, companyId, email, options);
}

export function seedUserSync(ctx: Seedable, companyId: number, email: string, options: { operator?: boolean } = {}): SeededUser {
  const userId = Number(
    ctx.db
      .prepare('INSERT INTO users (company_id, email, password_hash, is_operator, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(companyId, email, PASSWORD_HASH, options.operator ? 1 : 0, SEEDED_AT).lastInsertRowid,
  );
  return { companyId, userId, email };
}

/**
 * Transitional, SQLite only: issueInvitation's rows written synchronously, for tests of areas not yet async
 * (hostile-input's prepare step). Same effect: earlier unused links of the user stop working, only the hash is kept.
 */
export function issueInvitationSync(db: Db, clock: { now(): number }, userId: number, createdBy: number | null): { token: string; expiresAt: number } {
  const token = randomToken(32);
  const now = clock.now();
  const expiresAt = now + INVITATION_TTL_MS;
  db.prepare('UPDATE invitations SET used_at = ? WHERE user_id = ? AND used_at IS NULL').run(now, userId);
  db.prepare('INSERT INTO invitations (user_id, token_hash, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?)').run(
    userId,
    sha256(token),
    createdBy,
    now,
    expiresAt,
  );
  return { token, expiresAt };
}

/** The first column of the first row of a raw query (a count, an id), on either engine; undefined when no row. */
export async function queryValue(ctx: Pick<TestContext, 'query'>, text: string, ...params: unknown[]): Promise<unknown> {
  const [row] = await ctx.query(text, ...params);
  return row ? Object.values(row)[0] : undefined;
}

/** The first column of every row of a raw query, on either engine. */
export async function queryColumn(ctx: Pick<TestContext, 'query'>, text: string, ...params: unknown[]): Promise<unknown[]> {
  return (await ctx.query(text, ...params)).map((row) => Object.values(row)[0]);
}

/** Reads the CSRF token a page carries (hidden field or hx-headers). */
export function csrfFrom(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html) ?? /"X-CSRF-Token": "([^"]+)"/.exec(html);
  if (!match) throw new Error('no CSRF token in page');
  return match[1];
}

export type Agent = ReturnType<typeof request.agent> & { csrf: string };

/** A cookie-keeping agent with a fresh CSRF token, not signed in. */
export async function anonymousAgent(app: Express): Promise<Agent> {
  const agent = request.agent(app) as Agent;
  const page = await agent.get('/sign-in');
  agent.csrf = csrfFrom(page.text);
  return agent;
}

/** A signed-in agent; `agent.csrf` is the token for the new session. */
export async function signIn(app: Express, email: string, password = PASSWORD): Promise<Agent> {
  const agent = await anonymousAgent(app);
  const res = await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email, password });
  if (res.status !== 303) throw new Error(`sign-in failed for ${email}: ${res.status}`);
  const page = await agent.get('/audit');
  agent.csrf = csrfFrom(page.text);
  return agent;
}

/**
 * For tests that move the clock for another reason (a pending key's 30 minutes, an overlap's window):
 * every signed-in session counts as checked now, as if each person had just answered the password
 * again (sudo mode, src/http/recent-check.ts; tests/reauth.test.ts checks the answering itself).
 */
export async function recheckSessions(ctx: Pick<TestContext, 'query' | 'clock'>): Promise<void> {
  for (const { sid, data } of await ctx.query<{ sid: string; data: string }>('SELECT sid, data FROM sessions WHERE user_id IS NOT NULL')) {
    await ctx.query('UPDATE sessions SET data = ? WHERE sid = ?', JSON.stringify({ ...(JSON.parse(data) as object), checkedAt: ctx.clock.now() }), sid);
  }
}

/**
 * Records the SQL of every statement run on `database`: through Kysely, and the prepared reads of the
 * hot path that skip Kysely's executor (src/db/prepared.ts). Call restore() when done.
 */
export function spyOnQueries(database: Database): { sqls(): string[]; restore(): void } {
  const viaKysely = jest.spyOn(database, 'executeQuery');
  const lane = fastLaneOf(database);
  const viaLane = lane ? jest.spyOn(lane, 'run') : undefined;
  return {
    sqls: () => [
      ...viaKysely.mock.calls.map(([query]) => ('sql' in query ? query.sql : query.compile().sql)),
      ...(viaLane?.mock.calls.map(([text]) => text) ?? []),
    ],
    restore: () => {
      viaKysely.mockRestore();
      viaLane?.mockRestore();
    },
  };
}
