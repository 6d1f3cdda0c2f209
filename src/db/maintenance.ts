import type { Database } from './connect';
import type { Db } from './open';

/** Whole-file checks and settings for backup and restore: database-level, so they live beside open and migrate. */

/** SQLite's `PRAGMA integrity_check`: ['ok'] for a whole file, else the problems found. */
export function checkIntegrity(db: Db): string[] {
  const rows = db.pragma('integrity_check', { simple: false }) as { integrity_check: string }[];
  return rows.map((row) => row.integrity_check);
}

/** One self-contained file, no -wal beside it: what a backup or a file about to be restored must be. */
export function useRollbackJournal(db: Db): void {
  db.pragma('journal_mode = DELETE');
}

/** How many rows a table holds (restore reports the companies and users of the file it checked). */
export function countRows(db: Db, table: 'companies' | 'users'): number {
  return db.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
}

/**
 * Compiled once: the health check asks on every probe, one database round trip that reads little, on either
 * engine (building a Kysely query per call costs tens of µs; decision 0011).
 */
export function createMigrationCounter(db: Database): () => Promise<number> {
  const query = db
    .selectFrom('schema_migrations')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .compile();
  return async () => Number((await db.executeQuery(query)).rows[0].n);
}

/**
 * The migrations a database of either engine has applied, by name; [] when it has no schema_migrations table
 * (a new, empty database). Restore on PostgreSQL compares them with the backup's.
 */
export async function appliedMigrationNames(db: Database): Promise<string[]> {
  const tables = await db.introspection.getTables();
  if (!tables.some((table) => table.name === 'schema_migrations')) return [];
  const rows = await db.selectFrom('schema_migrations').select('name').orderBy('name').execute();
  return rows.map((row) => row.name);
}
