import { CompiledQuery } from 'kysely';
import type { Compilable } from 'kysely';
import type { Database } from '../db/connect';

/**
 * A query built and compiled once, then run with new parameters: for the queries asked on every
 * platform-API request (the signing-key state, the revocation list). Building and compiling a
 * Kysely query costs tens of µs; the SQLite dialect keeps the prepared statement by SQL text
 * (src/db/connect.ts), so one execution costs about what a prepared statement does.
 * Build the query with placeholder values, in the order the parameters will be given.
 */
export function compileOnce<Row>(db: Database, query: Compilable<Row>): (...parameters: unknown[]) => Promise<Row[]> {
  const { sql } = query.compile();
  return async (...parameters) => (await db.executeQuery<Row>(CompiledQuery.raw(sql, parameters))).rows;
}
