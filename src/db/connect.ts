import { CompiledQuery, Kysely, PostgresAdapter, PostgresDialect, SqliteDialect, SqliteDriver, sql } from 'kysely';
import type { DatabaseConnection, Driver, LogEvent, SqliteDatabase, SqliteDialectConfig, SqliteStatement } from 'kysely';
import pg from 'pg';
import { openDatabase } from './open';
import { batchingLane } from './batched-reads';
import { rowBuilder, setFastLane } from './prepared';
import type { Db as RawSqlite } from './open';
import type { Tables } from './schema';

/** What every repo takes: the whole database, or a transaction of it (see transaction below). */
export type Database = Kysely<Tables>;
export type Engine = 'sqlite' | 'postgres';

export interface Connection {
  db: Database;
  engine: Engine;
  /**
   * The better-sqlite3 handle under `db` on SQLite (null on PostgreSQL): for whole-file work only
   * (backup, integrity check, running a migration file) and for modules not yet moved to Kysely.
   */
  sqlite: RawSqlite | null;
  close(): Promise<void>;
}

/** The most statements kept prepared per SQLite connection; past it the oldest is dropped. */
const STATEMENT_CACHE_SIZE = 1000;

/**
 * better-sqlite3 under Kysely, with prepared statements kept by SQL text. Kysely's SQLite driver calls
 * prepare() for every query; preparing costs more than running a typical indexed lookup (decision 0011).
 */
function cachingStatements(raw: RawSqlite): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => raw.close(),
    prepare(text: string): SqliteStatement {
      let statement = cache.get(text);
      if (!statement) {
        statement = raw.prepare(text);
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
        cache.set(text, statement);
      }
      return statement;
    },
  };
}

/**
 * Kysely's SQLite driver begins with a plain, deferred BEGIN (kysely-org/kysely#1152). A deferred
 * transaction that reads and then writes fails with SQLITE_BUSY, instead of waiting, when another
 * process wrote in between. BEGIN IMMEDIATE takes the write lock up front: writers queue.
 *
 * While modules move to Kysely (decision 0011), a Kysely transaction can start inside one the
 * better-sqlite3 handle already has open (an unconverted module's, or a test that rolls a case back);
 * BEGIN would fail there, so it becomes a savepoint of the open transaction, as better-sqlite3's own
 * nested transactions do. One connection and Kysely's mutex: one Kysely transaction at a time.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  readonly #raw: RawSqlite;
  #inRawTransaction = false;
  constructor(config: SqliteDialectConfig, raw: RawSqlite) {
    super(config);
    this.#raw = raw;
  }
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    this.#inRawTransaction = this.#raw.inTransaction;
    await connection.executeQuery(CompiledQuery.raw(this.#inRawTransaction ? 'savepoint kysely_transaction' : 'begin immediate'));
  }
  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    if (!this.#inRawTransaction) return super.commitTransaction(connection);
    await connection.executeQuery(CompiledQuery.raw('release savepoint kysely_transaction'));
  }
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (!this.#inRawTransaction) return super.rollbackTransaction(connection);
    await connection.executeQuery(CompiledQuery.raw('rollback to savepoint kysely_transaction'));
    await connection.executeQuery(CompiledQuery.raw('release savepoint kysely_transaction'));
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  readonly #raw: RawSqlite;
  constructor(config: SqliteDialectConfig, raw: RawSqlite) {
    super(config);
    this.#config = config;
    this.#raw = raw;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config, this.#raw);
  }
}

/** PostgreSQL's int8 (BIGINT: ids, millisecond times, counts) as JavaScript numbers: all stay far below 2^53. */
const INT8_OID = 20;
const textParser = (oid: number) => pg.types.getTypeParser(oid, 'text') as (value: string) => unknown;
const typeParsers = new Map<number, (value: string) => unknown>();
/** pg asks for every column's parser on every result: answered from a map, once per type. */
const pgTypes = {
  getTypeParser: ((oid: number) => {
    let parser = typeParsers.get(oid);
    if (parser === undefined) typeParsers.set(oid, (parser = oid === INT8_OID ? Number : textParser(oid)));
    return parser;
  }) as typeof pg.types.getTypeParser,
};

/**
 * Connections of the prepared reads' own pool on PostgreSQL (src/db/batched-reads.ts): one statement of
 * each read in flight at a time, a handful of reads on the hot path.
 */
const LANE_CONNECTIONS = 4;

export interface ConnectOptions {
  /** postgres://... for PostgreSQL; otherwise the SQLite file at `databaseFile`. */
  databaseUrl?: string;
  databaseFile: string;
  /** Most PostgreSQL connections this process holds (default 10). */
  poolSize?: number;
  /**
   * Told the SQL and the duration in milliseconds of every statement run, failed ones included (tests count
   * writes with it, the metrics time statements); without it Kysely is given no log hook and times nothing.
   */
  onQuery?: QueryObserver;
  /**
   * Told when PostgreSQL drops a pooled connection while it is idle (a server restart, an administrator's
   * pg_terminate_backend): the pool forgets it and opens another when needed. Without a listener, pg's
   * pool would throw the error and end the process.
   */
  onConnectionError?: (err: Error) => void;
}

export type QueryObserver = (sql: string, durationMs: number) => void;

const queryLog = (onQuery?: QueryObserver) => (onQuery ? { log: (event: LogEvent) => onQuery(event.query.sql, event.queryDurationMillis) } : {});

/**
 * Runs a prepared read of the fast lane (src/db/prepared.ts), which bypasses Kysely and so its log: told to
 * onQuery like Kysely's statements, with its duration, failed or not. Without onQuery, just runs it.
 */
function observed<T>(onQuery: QueryObserver | undefined, sql: string, run: () => T): T {
  if (!onQuery) return run();
  const start = performance.now();
  const done = () => onQuery(sql, performance.now() - start);
  let result: T;
  try {
    result = run();
  } catch (err) {
    done();
    throw err;
  }
  if (result instanceof Promise) return result.finally(done) as T;
  done();
  return result;
}

/** Opens the configured database: PostgreSQL when a URL is given, else the SQLite file (WAL, foreign keys, busy timeout). */
export function connect(options: ConnectOptions): Connection {
  if (options.databaseUrl) {
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize ?? 10, types: pgTypes });
    const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }), ...queryLog(options.onQuery) });
    const dropped = (err: Error) => options.onConnectionError?.(err);
    pool.on('error', dropped);
    // Prepared reads (src/db/prepared.ts) run as named statements, batched when asked together, on a
    // small pool of their own whose connections plan them once (decision 0022).
    const lanePool = new pg.Pool({ connectionString: options.databaseUrl, max: LANE_CONNECTIONS, types: pgTypes });
    lanePool.on('error', dropped);
    setFastLane(db, batchingLane(lanePool, { observe: (text, run) => observed(options.onQuery, text, run) }));
    // Kysely ends only a pool it has used; the fast lane may have been the only user.
    const close = async () => {
      await db.destroy();
      if (!pool.ending && !pool.ended) await pool.end();
      if (!lanePool.ending && !lanePool.ended) await lanePool.end();
    };
    return { db, engine: 'postgres', sqlite: null, close };
  }
  return wrapSqlite(openDatabase(options.databaseFile), options.onQuery);
}

/** Kysely over an open better-sqlite3 handle (tests and the CLI open files themselves). */
export function wrapSqlite(raw: RawSqlite, onQuery?: QueryObserver): Connection {
  const statements = cachingStatements(raw);
  const db = new Kysely<Tables>({ dialect: new ImmediateSqliteDialect({ database: statements }, raw), ...queryLog(onQuery) });
  // Prepared reads (src/db/prepared.ts) run the cached statement directly, except inside a transaction:
  // there they wait for Kysely's connection like any query, and never see uncommitted writes.
  // Its own statements, read as arrays (Kysely's cached ones give objects): a row is built by rowBuilder.
  const reads = new Map<string, (parameters: unknown[]) => unknown[]>();
  const readOf = (text: string) => {
    const statement = raw.prepare(text).raw(true);
    const build = rowBuilder(statement.columns().map((column) => column.name));
    return (parameters: unknown[]) => (statement.all(parameters) as unknown[][]).map(build);
  };
  setFastLane(db, {
    run: (text, parameters) => {
      if (raw.inTransaction) return undefined;
      let read = reads.get(text);
      if (read === undefined) reads.set(text, (read = readOf(text)));
      return observed(onQuery, text, () => read(parameters));
    },
  });
  const close = async () => {
    await db.destroy();
    if (raw.open) raw.close(); // Kysely closes the file only if it ever ran a query on it
  };
  return { db, engine: 'sqlite', sqlite: raw, close };
}

/** The key of the PostgreSQL advisory lock every write transaction takes (see transaction). */
const WRITE_LOCK = 0x636f6e73; // 'cons'

/**
 * Runs fn in one transaction that means the same on both engines: writers take turns. SQLite's
 * BEGIN IMMEDIATE takes the database's write lock up front; on PostgreSQL the transaction first
 * takes a transaction-scoped advisory lock, so the console's read-check-write steps (Save's
 * compare-and-swap, the unsaved cap, throttle windows) never interleave across replicas. Reads
 * outside transactions are not held up on either engine. Inside a transaction, a nested call
 * runs in the same one.
 */
export async function transaction<T>(db: Database, fn: (trx: Database) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db);
  return db.transaction().execute(async (trx) => {
    if (isPostgres(trx)) await sql`select pg_advisory_xact_lock(${WRITE_LOCK})`.execute(trx);
    return fn(trx);
  });
}

/**
 * Background work that must run once across replicas (a sweep, a flush): runs fn like transaction(),
 * unless another process is already running the job with this key, in which case it returns
 * `skipped` at once instead of queueing behind it. On PostgreSQL the job's key is a transaction-scoped
 * advisory lock taken with pg_try_advisory_xact_lock before the write lock; on SQLite BEGIN IMMEDIATE
 * already runs writers one at a time, and a run that follows another finds nothing left to do.
 * Inside a transaction, fn joins it.
 */
export async function transactionOnce<T>(db: Database, jobKey: number, fn: (trx: Database) => Promise<T>): Promise<T | typeof skipped> {
  if (db.isTransaction || !isPostgres(db)) return transaction(db, fn);
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ free: boolean }>`select pg_try_advisory_xact_lock(${jobKey}) as free`.execute(trx);
    if (!rows[0].free) return skipped;
    await sql`select pg_advisory_xact_lock(${WRITE_LOCK})`.execute(trx);
    return fn(trx);
  });
}

/** What transactionOnce returns when another process was running the same job. */
export const skipped: unique symbol = Symbol('skipped');

/** Which engine a Kysely instance speaks to. */
export function isPostgres(db: Database): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** True when err is a unique-constraint violation, on either engine (SQLite's UNIQUE or PRIMARY KEY, PostgreSQL's 23505). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}
