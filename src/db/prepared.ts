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

/** PostgreSQL statement names: one per SQL text, short and stable (pg keeps them per connection). */
export function statementName(text: string): string {
  return `console_${crypto.createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
}

/** The fast lane a Database runs its prepared reads on, if any (tests count the queries a request runs). */
export function fastLaneOf(db: Database): FastLane | undefined {
  return lanes.get(db);
}
