import crypto from 'node:crypto';
import { CompiledQuery } from 'kysely';
import type { Compilable } from 'kysely';
import type { Database } from './connect';

/**
 * The reads asked on every platform-API request (a credential and its company, a signing key's state,
 * a revocation, a throttle window), compiled once and run on each engine's fastest path (decision 0013).
 *
 * Building and compiling a Kysely query costs tens of µs, and Kysely's executor, its connection mutex
 * and PostgreSQL's unnamed statements (parsed and planned again on every call) cost more than the
 * indexed read itself. So a prepared read is built with the query builder once, with placeholder
 * values in `slots`, and each call puts its values in their places and runs the same SQL text:
 * - SQLite: better-sqlite3's statement, prepared once, run directly. While the connection is inside a
 *   transaction (Kysely's, awaiting between statements), the read goes through Kysely instead and waits
 *   its turn: it must never see a transaction's uncommitted writes.
 * - PostgreSQL: a named statement (pg prepares it once per pooled connection), on the same pool.
 * A Database without a fast lane (a transaction, a test's own Kysely) runs the read through Kysely.
 */
export type PreparedRead<Row, V extends unknown[]> = (...values: V) => Promise<Row[]>;

/** How a connection runs a prepared read without Kysely's executor; undefined = go through Kysely this time. */
export interface FastLane {
  run(sql: string, parameters: unknown[]): Promise<unknown[]> | unknown[] | undefined;
}

const lanes = new WeakMap<Database, FastLane>();

/** Called by connect() for the Database it opens. */
export function setFastLane(db: Database, lane: FastLane): void {
  lanes.set(db, lane);
}

export function preparedRead<Row, V extends unknown[]>(db: Database, query: Compilable<Row>, slots: V): PreparedRead<Row, V> {
  const compiled = query.compile();
  const positions = slots.map((slot) => {
    const at = compiled.parameters.indexOf(slot);
    if (at < 0 || compiled.parameters.lastIndexOf(slot) !== at) throw new Error(`placeholder ${String(slot)} must appear exactly once in ${compiled.sql}`);
    return at;
  });
  const lane = lanes.get(db);
  const text = compiled.sql;
  return async (...values) => {
    const parameters = [...compiled.parameters];
    for (let i = 0; i < positions.length; i++) parameters[positions[i]] = values[i];
    const fast = lane?.run(text, parameters);
    if (fast !== undefined) return (await fast) as Row[];
    return (await db.executeQuery<Row>(CompiledQuery.raw(text, parameters))).rows;
  };
}

/** Makes one row object of a read's column values, in the order of its columns. */
export type RowBuilder = (values: unknown[]) => Record<string, unknown>;

/**
 * A RowBuilder for these column names: one object literal per row, compiled once per statement. The
 * drivers build rows by setting each column by name in turn; reading a prepared read's values as an
 * array and building the row here measured 3-5 µs less per platform-API request (docs/benchmarks.md).
 * The names are our own SQL's column aliases, written into the code as JSON string literals. With an
 * offset, the first column is values[offset] (a batch's rows begin with their read's ordinal).
 */
export function rowBuilder(columns: readonly string[], offset = 0): RowBuilder {
  const fields = columns.map((name, i) => `${JSON.stringify(name)}: values[${i + offset}]`).join(', ');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- see above: a fixed shape from trusted names
  return new Function('values', `return { ${fields} };`) as RowBuilder;
}

/** PostgreSQL statement names: one per SQL text, short and stable (pg keeps them per connection). */
export function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `console_${crypto.createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name;
}

/** Named once per SQL text: the fast lane asks on every read, and the prepared reads are a handful. */
const statementNames = new Map<string, string>();

/** The fast lane a Database runs its prepared reads on, if any (tests count the queries a request runs). */
export function fastLaneOf(db: Database): FastLane | undefined {
  return lanes.get(db);
}
