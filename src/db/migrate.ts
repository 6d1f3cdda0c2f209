import fs from 'node:fs';
import path from 'node:path';
import { MIGRATIONS_DIR } from '../paths';
import type { Db } from './open';

/** Applies every migrations/NNNN_name.sql not yet recorded, each in its own transaction. Returns the names applied. */
export function migrate(db: Db, dir = MIGRATIONS_DIR): string[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    name TEXT PRIMARY KEY,
    applied_at INTEGER NOT NULL
  ) STRICT`);
  const applied = new Set(listAppliedMigrations(db));
  const sqlFiles = fs.readdirSync(dir).filter((f) => f.endsWith('.sql'));
  // A misnamed migration would otherwise be skipped without a word, on every start.
  const misnamed = sqlFiles.filter((f) => !/^\d{4}_[a-z0-9_]+\.sql$/.test(f));
  if (misnamed.length) throw new Error(`Migration file names must look like 0001_lower_case.sql: ${misnamed.join(', ')}`);
  const files = sqlFiles.sort();
  const done: string[] = [];
  for (const file of files) {
    if (applied.has(file)) continue;
    const sql = fs.readFileSync(path.join(dir, file), 'utf8');
    db.transaction(() => {
      db.exec(sql);
      db.prepare('INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)').run(file, Date.now());
    }).immediate();
    done.push(file);
  }
  return done;
}

export function hasMigrationsTable(db: Db): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get() !== undefined;
}

/** The migration files this database has applied, by name. */
export function listAppliedMigrations(db: Db): string[] {
  return db.prepare('SELECT name FROM schema_migrations ORDER BY name').pluck().all() as string[];
}

/** Prepared once: the health check asks on every probe, a database round trip that reads little. */
export function createMigrationCounter(db: Db): () => number {
  const statement = db.prepare('SELECT COUNT(*) FROM schema_migrations').pluck();
  return () => statement.get() as number;
}
