import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { checkIntegrity, useRollbackJournal } from '../db/maintenance';
import { OpsError } from './errors';
import { clientConnection, runPostgresTool } from './postgres-tools';

export interface BackupResult {
  target: string;
  bytes: number;
  pages: number;
}

/**
 * A consistent copy of the live database, safe while the server serves: SQLite's online backup
 * copies every page inside one read transaction (WAL readers never block writers, nor writers them).
 * The copy is written beside the target, checked, switched to a single-file journal, then renamed
 * into place, so `target` is either absent or a complete, verified database.
 */
export async function backupDatabase(dbFile: string, target: string): Promise<BackupResult> {
  const resolved = path.resolve(target);
  if (!fs.existsSync(dbFile)) throw new OpsError(`There is no database at ${dbFile} (check DATA_DIR).`);
  if (path.resolve(dbFile) === resolved) throw new OpsError('The backup file cannot be the live database itself.');
  if (fs.existsSync(resolved)) throw new OpsError(`${resolved} already exists; choose a new file name (backups never overwrite).`);
  if (!fs.existsSync(path.dirname(resolved))) throw new OpsError(`The directory ${path.dirname(resolved)} does not exist.`);

  const partial = `${resolved}.partial-${process.pid}`;
  // Waits up to 5 s for a writer's lock, as the server's own connections do.
  const source = new Database(dbFile, { fileMustExist: true, timeout: 5000 });
  try {
    // After the first step, all remaining pages in one step: one snapshot, no restart when the server writes.
    const result = await source.backup(partial, { progress: () => 0x7fffffff });
    const copy = new Database(partial);
    try {
      const [check] = checkIntegrity(copy);
      if (check !== 'ok') throw new OpsError(`The copy failed its integrity check (${check}); nothing was written.`);
      useRollbackJournal(copy);
    } finally {
      copy.close();
    }
    fs.chmodSync(partial, 0o600); // it holds what the database holds, wherever it is written
    fs.renameSync(partial, resolved);
    return { target: resolved, bytes: fs.statSync(resolved).size, pages: result.totalPages };
  } catch (err) {
    for (const leftover of [partial, `${partial}-wal`, `${partial}-shm`, `${partial}-journal`]) fs.rmSync(leftover, { force: true });
    throw err;
  } finally {
    source.close();
  }
}

export interface PostgresBackupResult {
  target: string;
  bytes: number;
}

/**
 * A consistent copy of a PostgreSQL database, safe while servers use it: pg_dump reads everything in one
 * snapshot. The custom format is compressed and what pg_restore reads. As with SQLite, the dump is written
 * beside the target, checked (pg_restore --list reads it whole), then renamed into place.
 */
export async function backupPostgres(databaseUrl: string, target: string): Promise<PostgresBackupResult> {
  const resolved = path.resolve(target);
  if (fs.existsSync(resolved)) throw new OpsError(`${resolved} already exists; choose a new file name (backups never overwrite).`);
  if (!fs.existsSync(path.dirname(resolved))) throw new OpsError(`The directory ${path.dirname(resolved)} does not exist.`);
  const partial = `${resolved}.partial-${process.pid}`;
  const { dbname, env } = clientConnection(databaseUrl);
  try {
    await runPostgresTool('pg_dump', ['--format=custom', `--file=${partial}`, `--dbname=${dbname}`], env);
    await runPostgresTool('pg_restore', ['--list', partial], env);
    fs.chmodSync(partial, 0o600); // it holds what the database holds, wherever it is written
    fs.renameSync(partial, resolved);
    return { target: resolved, bytes: fs.statSync(resolved).size };
  } catch (err) {
    fs.rmSync(partial, { force: true });
    throw err;
  }
}
