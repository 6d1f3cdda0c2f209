import { sql } from 'kysely';
import type { Database } from './connect';
import { isPostgres, transaction } from './connect';

/**
 * Runs fn in one write transaction (transaction() in connect.ts), unless another process is running work
 * under the same `key` on this PostgreSQL database right now: then it returns undefined and does nothing.
 * For background work that must run once across replicas (issue 12), e.g. prune.
 *
 * The try-lock is session-level, taken on a pinned connection before the transaction begins: a
 * pg_try_advisory_xact_lock inside transaction() would come after its write lock and be released with it,
 * so it could never see the other process. The lock goes with the connection if the process dies.
 * On SQLite, BEGIN IMMEDIATE already makes such work take turns: fn always runs.
 */
export async function unlessRunningElsewhere<T>(db: Database, key: number, fn: (trx: Database) => Promise<T>): Promise<T | undefined> {
  if (!isPostgres(db)) return transaction(db, fn);
  return db.connection().execute(async (conn) => {
    const { rows } = await sql<{ acquired: boolean }>`select pg_try_advisory_lock(${key}) as acquired`.execute(conn);
    if (!rows[0].acquired) return undefined;
    try {
      return await transaction(conn, fn);
    } finally {
      await sql`select pg_advisory_unlock(${key})`.execute(conn);
    }
  });
}
