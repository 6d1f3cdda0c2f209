import pg from 'pg';
import { rowBuilder, statementName } from './prepared';
import type { FastLane, RowBuilder } from './prepared';

/**
 * PostgreSQL's fast lane (src/db/prepared.ts): prepared reads asked while the same read is already on
 * its way to the server wait for it, and then go together, as ONE statement (decision 0022).
 *
 * A read asked when none of its kind is in flight goes at once, alone, as the named statement it is.
 * The ones asked meanwhile queue; when the answer comes back, the queue goes as one batch:
 *
 *   select p.i, q.* from unnest($1::text[], $2::int8[], ...) with ordinality as p(v1, v2, ..., i)
 *   cross join lateral (<the read, with $k replaced by p.vk>) q
 *
 * Each read is one row of p and gets back exactly the rows of q that carry its ordinal. A read is
 * never shared with another, even one with the same values, and each was asked before its statement
 * was sent: every read sees what was committed before it was asked, as when it went alone. So the
 * semantics are the single read's; only the round trips are fewer. Under load, batches grow by
 * themselves (more is asked while one is in flight); with a distant server too, which is where one
 * round trip for many reads matters most.
 *
 * Why: on one core, ten connections each running a small read cost PostgreSQL about 650 µs of CPU per
 * read and `pg` about 470 µs (context switches between ten backends, one protocol exchange per read),
 * against 17 µs and 17 µs per read in batches of eight (docs/benchmarks.md, the micro-benchmark).
 *
 * - The lane has its own small pool, whose connections plan its statements once (each is told
 *   `set plan_cache_mode = force_generic_plan` before its first read): the batch's lateral join was
 *   otherwise planned again on each run. Kysely's pool, and so every other statement, keeps
 *   PostgreSQL's default planning.
 * - A batch that fails on a value (SQLSTATE class 22, data exception: a NUL in a text, a number out of
 *   range) is run again read by read, so that one caller's bad value fails only that caller's read.
 *   Any other failure (the server is gone) fails every read of the batch, as it would have failed each.
 * - A read without parameters goes alone each time: it has nothing to unnest.
 */
export interface BatchingLaneOptions {
  /** Runs one statement, timed for the metrics (connect.ts's `observed`). */
  observe: <T>(sql: string, run: () => Promise<T>) => Promise<T>;
  /** Most reads in one batch; the rest wait for the next. */
  maxBatch?: number;
}

/** Waits for a batch: its values, and how to give it its rows. */
interface Waiting {
  parameters: unknown[];
  resolve: (rows: Record<string, unknown>[]) => void;
  reject: (err: unknown) => void;
}

/** One read's text with one set of parameter types: its batch statement, its queue, and whether a statement of it is in flight. */
interface Kind {
  text: string;
  types: string[];
  batchText: string;
  queue: Waiting[];
  busy: boolean;
}

const DEFAULT_MAX_BATCH = 128;
/** Sent once on each of the lane's connections, before its first read. */
const PLAN_ONCE = 'set plan_cache_mode = force_generic_plan';

export function batchingLane(pool: pg.Pool, options: BatchingLaneOptions): FastLane {
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  /** By SQL text (the same string on every call: its hash is kept), then by the parameters' types. */
  const kinds = new Map<string, Map<string, Kind>>();
  const builders = new Map<string, RowBuilder>();
  /** The lane's connections that were told PLAN_ONCE. */
  const planning = new WeakSet<pg.PoolClient>();

  /**
   * Sends one statement on one of the pool's connections. A connection that failed is dropped, as
   * pool.query drops it; one that PostgreSQL answered with an error (a bad value) is kept.
   */
  async function send(text: string, values: unknown[]): Promise<pg.QueryResult<unknown[]>> {
    const client = await pool.connect();
    try {
      if (!planning.has(client)) {
        planning.add(client);
        await client.query(PLAN_ONCE).catch(() => undefined); // without it, reads are only planned more often
      }
      const result = await client.query<unknown[]>({ name: statementName(text), text, values, rowMode: 'array' });
      client.release();
      return result;
    } catch (err) {
      client.release(err instanceof pg.DatabaseError ? undefined : (err as Error));
      throw err;
    }
  }

  /** The statement's rows as arrays, and its RowBuilder: one object per row from column `skip` on. */
  async function query(text: string, values: unknown[], skip: number): Promise<{ rows: unknown[][]; build: RowBuilder }> {
    const result = await options.observe(text, () => send(text, values));
    let build = builders.get(text);
    if (build === undefined) {
      build = rowBuilder(
        result.fields.slice(skip).map((field) => field.name),
        skip,
      );
      builders.set(text, build);
    }
    return { rows: result.rows, build };
  }

  async function alone(text: string, parameters: unknown[]): Promise<Record<string, unknown>[]> {
    const { rows, build } = await query(text, parameters, 0);
    return rows.map(build);
  }

  async function together(kind: Kind, batch: Waiting[]): Promise<void> {
    const columns = kind.types.map((_, k) => batch.map((waiting) => waiting.parameters[k]));
    let answer: { rows: unknown[][]; build: RowBuilder };
    try {
      answer = await query(kind.batchText, columns, 1);
    } catch (err) {
      if (!isDataException(err)) throw err;
      await Promise.all(batch.map((waiting) => alone(kind.text, waiting.parameters).then(waiting.resolve, waiting.reject)));
      return;
    }
    const rows: Record<string, unknown>[][] = batch.map(() => []);
    for (const row of answer.rows) rows[(row[0] as number) - 1].push(answer.build(row));
    batch.forEach((waiting, i) => waiting.resolve(rows[i]));
  }

  /** Sends what waits, one statement at a time, until nothing does. */
  async function drain(kind: Kind): Promise<void> {
    kind.busy = true;
    try {
      while (kind.queue.length > 0) {
        const batch = kind.queue.splice(0, maxBatch);
        try {
          if (batch.length === 1) batch[0].resolve(await alone(kind.text, batch[0].parameters));
          else await together(kind, batch);
        } catch (err) {
          for (const waiting of batch) waiting.reject(err);
        }
      }
    } finally {
      kind.busy = false;
    }
  }

  return {
    run(text, parameters) {
      const types = parameters.length === 0 ? undefined : arrayTypes(parameters);
      if (types === undefined) return alone(text, parameters);
      let byTypes = kinds.get(text);
      if (byTypes === undefined) kinds.set(text, (byTypes = new Map<string, Kind>()));
      const signature = types.join(',');
      let found = byTypes.get(signature);
      if (found === undefined) byTypes.set(signature, (found = { text, types, batchText: batchTextOf(text, types), queue: [], busy: false }));
      const kind = found;
      return new Promise((resolve, reject) => {
        kind.queue.push({ parameters, resolve, reject });
        if (!kind.busy) void drain(kind);
      });
    },
  };
}

/** The read `text` over arrays of its parameters, one row of `p` per read: see batchingLane. */
function batchTextOf(text: string, types: string[]): string {
  const arrays = types.map((type, k) => `$${k + 1}::${type}[]`).join(', ');
  const names = types.map((_, k) => `v${k + 1}`).join(', ');
  const inner = text.replace(/\$(\d+)/g, (_, n: string) => `p.v${n}`);
  return `select p.i, q.* from unnest(${arrays}) with ordinality as p(${names}, i) cross join lateral (${inner}) q`;
}

/** The PostgreSQL type of each parameter's array, from its JavaScript value; undefined if one has no clear type. */
function arrayTypes(parameters: unknown[]): string[] | undefined {
  const types: string[] = [];
  for (const value of parameters) {
    if (typeof value === 'string') types.push('text');
    else if (typeof value === 'number') types.push(Number.isSafeInteger(value) ? 'int8' : 'float8');
    else if (typeof value === 'boolean') types.push('bool');
    else if (Buffer.isBuffer(value)) types.push('bytea');
    else return undefined; // null, a date, anything else: the single statement lets PostgreSQL infer it
  }
  return types;
}

/** SQLSTATE class 22: the statement failed on a value, not on the server or the connection. */
function isDataException(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('22');
}
