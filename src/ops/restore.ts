import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { appliedMigrationNames, checkIntegrity, countRows, useRollbackJournal } from '../db/maintenance';
import { connect } from '../db/connect';
import { hasMigrationsTable, listAppliedMigrations, migrationFiles } from '../db/migrate';
import { MIGRATIONS_DIR } from '../paths';
import { backupDatabase, backupPostgres } from './backup';
import { OpsError } from './errors';
import { clientConnection, runPostgresTool } from './postgres-tools';
import { findRunningServers } from './server-lock';

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

export interface VerifiedDatabase {
  migrations: number;
  /** Our migrations the file does not have yet: the server applies them at its next start. */
  pendingMigrations: string[];
  companies: number;
  users: number;
}

function readHeader(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const header = Buffer.alloc(16);
    fs.readSync(fd, header, 0, 16, 0);
    return header;
  } finally {
    fs.closeSync(fd);
  }
}

/** A backup's migrations against this version's: refused when it has one we do not know (a newer console made it). */
function againstOurMigrations(file: string, applied: string[], migrationsDir: string): { migrations: number; pendingMigrations: string[] } {
  const ours = migrationFiles(migrationsDir);
  const unknown = applied.filter((name) => !ours.includes(name));
  if (unknown.length) {
    throw new OpsError(
      `${file} comes from a newer version of the console (migrations this version does not have: ${unknown.join(', ')}). Restore it with that version.`,
    );
  }
  return { migrations: applied.length, pendingMigrations: ours.filter((name) => !applied.includes(name)) };
}

/**
 * Checks that `file` is a whole console database this version can run: an SQLite file that passes
 * `PRAGMA integrity_check`, with our schema_migrations table, and no migration we do not know
 * (a file from a newer version would be run by code that does not understand it).
 */
export function verifyDatabaseFile(file: string, migrationsDir = MIGRATIONS_DIR): VerifiedDatabase {
  if (!fs.existsSync(file)) throw new OpsError(`${file} does not exist.`);
  if (!fs.statSync(file).isFile()) throw new OpsError(`${file} is not a file.`);
  if (fs.statSync(file).size < 512 || !readHeader(file).equals(SQLITE_HEADER)) throw new OpsError(`${file} is not an SQLite database.`);
  if (fs.existsSync(`${file}-wal`) && fs.statSync(`${file}-wal`).size > 0) {
    throw new OpsError(`${file} has a ${path.basename(file)}-wal file beside it, so the file alone may be incomplete. Use a file made by \`backup\`.`);
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const problems = checkIntegrity(db);
    if (problems.length !== 1 || problems[0] !== 'ok') {
      const first = problems.slice(0, 3).join('; ');
      throw new OpsError(`${file} failed its integrity check: ${first}`);
    }
    if (!hasMigrationsTable(db)) throw new OpsError(`${file} is an SQLite database but not one of this console (no schema_migrations table).`);
    const applied = listAppliedMigrations(db);
    return {
      ...againstOurMigrations(file, applied, migrationsDir),
      companies: applied.length ? countRows(db, 'companies') : 0,
      users: applied.length ? countRows(db, 'users') : 0,
    };
  } catch (err) {
    if (err instanceof OpsError) throw err;
    throw new OpsError(`${file} cannot be read as a database: ${(err as Error).message}`);
  } finally {
    db?.close();
  }
}

export interface RestoreResult extends VerifiedDatabase {
  databaseFile: string;
  /** The database that was replaced, kept beside it (undefined when there was none). */
  previousCopy?: string;
}

/**
 * Replaces the database with `file`. Refuses while a server uses the data directory; verifies the
 * file (and again the copy that will be swapped in); keeps the current database as a dated copy;
 * then renames the new file into place, so the database is at every instant either the old or the new one.
 */
export async function restoreDatabase(
  target: { dataDir: string; databaseFile: string },
  file: string,
  options: { now?: number; migrationsDir?: string } = {},
): Promise<RestoreResult> {
  const source = path.resolve(file);
  const { dataDir, databaseFile } = target;
  const running = findRunningServers(dataDir);
  if (running.length) {
    const who = running.map((l) => `pid ${l.pid} on ${l.hostname}`).join(', ');
    throw new OpsError(
      `The server is running on this data directory (${who}). Stop it first, then run restore again. ` +
        `(If it is not running, ${path.join(dataDir, 'server-*.lock')} is left from a crash: it is ignored ${15} s after the crash, or delete it.)`,
    );
  }
  if (source === path.resolve(databaseFile)) throw new OpsError('That file is the live database itself.');
  verifyDatabaseFile(source, options.migrationsDir);

  fs.mkdirSync(dataDir, { recursive: true });
  const incoming = `${databaseFile}.restore-${process.pid}`;
  fs.rmSync(incoming, { force: true });
  try {
    fs.copyFileSync(source, incoming);
    fs.chmodSync(incoming, 0o600); // the live database is owner only, whatever mode the backup had
    const copy = new Database(incoming);
    try {
      useRollbackJournal(copy);
    } finally {
      copy.close();
    }
    const verified = verifyDatabaseFile(incoming, options.migrationsDir);

    let previousCopy: string | undefined;
    if (fs.existsSync(databaseFile)) {
      const stamp = new Date(options.now ?? Date.now()).toISOString().replace(/[:.]/g, '-');
      previousCopy = `${databaseFile}.before-restore-${stamp}`;
      await backupDatabase(databaseFile, previousCopy);
      // backupDatabase's connection was the last one: SQLite checkpointed and removed the -wal on close.
      // A -wal with content now means another process still has the database open.
      if (fs.existsSync(`${databaseFile}-wal`) && fs.statSync(`${databaseFile}-wal`).size > 0) {
        throw new OpsError('Another process still has the database open (its -wal file is in use). Stop it first, then run restore again.');
      }
    }
    for (const stale of [`${databaseFile}-wal`, `${databaseFile}-shm`, `${databaseFile}-journal`]) fs.rmSync(stale, { force: true });
    fs.renameSync(incoming, databaseFile);
    return { ...verified, databaseFile, previousCopy };
  } finally {
    fs.rmSync(incoming, { force: true });
    fs.rmSync(`${incoming}-journal`, { force: true });
  }
}

/** The first bytes of pg_dump's custom format. */
const DUMP_HEADER = Buffer.from('PGDMP', 'latin1');

/** The rows of one table in pg_restore's SQL output: its COPY block, tab-separated, until the `\.` line. */
function copyRows(script: string, table: string): string[][] {
  const lines = script.split('\n');
  const start = lines.findIndex((line) => new RegExp(`^COPY (public\\.)?${table} \\(`).test(line));
  if (start < 0) return [];
  const end = lines.indexOf('\\.', start);
  return lines.slice(start + 1, end < 0 ? undefined : end).map((line) => line.split('\t'));
}

/**
 * Checks that `file` is a pg_dump custom-format dump of a console database this version can run: pg_restore
 * reads it whole, it has our schema_migrations table, and no migration we do not know.
 */
export async function verifyPostgresDump(file: string, migrationsDir = MIGRATIONS_DIR): Promise<VerifiedDatabase> {
  if (!fs.existsSync(file)) throw new OpsError(`${file} does not exist.`);
  if (!fs.statSync(file).isFile()) throw new OpsError(`${file} is not a file.`);
  if (fs.statSync(file).size < DUMP_HEADER.length || !readHeader(file).subarray(0, DUMP_HEADER.length).equals(DUMP_HEADER)) {
    throw new OpsError(`${file} is not a PostgreSQL dump in pg_dump's custom format (what \`backup\` writes when DATABASE_URL is set).`);
  }
  const contents = await runPostgresTool('pg_restore', ['--list', file]).catch((err: Error) => {
    throw new OpsError(`${file} cannot be read as a dump: ${err.message}`);
  });
  if (!/ TABLE DATA \S+ schema_migrations /.test(contents)) {
    throw new OpsError(`${file} is a PostgreSQL dump but not one of this console (no schema_migrations table).`);
  }
  const script = await runPostgresTool('pg_restore', ['--data-only', '--table=schema_migrations', '--table=companies', '--table=users', '--file=-', file]);
  const applied = copyRows(script, 'schema_migrations')
    .map(([name]) => name)
    .sort();
  return {
    ...againstOurMigrations(file, applied, migrationsDir),
    companies: copyRows(script, 'companies').length,
    users: copyRows(script, 'users').length,
  };
}

export interface PostgresRestoreResult extends VerifiedDatabase {
  /** The dump of the database as it was before, in DATA_DIR. */
  previousCopy: string;
}

/**
 * Replaces the PostgreSQL database's contents with the dump `file`, in one transaction (pg_restore
 * --single-transaction: on any error nothing changes). It cannot tell whether servers are using the
 * database (they may run on other hosts): the operator stops them first, and the command says so.
 * The database as it was is dumped first to DATA_DIR/postgres-before-restore-<time>.dump.
 */
export async function restorePostgres(
  target: { dataDir: string; databaseUrl: string },
  file: string,
  options: { now?: number; migrationsDir?: string } = {},
): Promise<PostgresRestoreResult> {
  const source = path.resolve(file);
  const verified = await verifyPostgresDump(source, options.migrationsDir);
  const connection = connect({ databaseUrl: target.databaseUrl, databaseFile: '', poolSize: 1 });
  let live: string[];
  try {
    live = await appliedMigrationNames(connection.db);
  } finally {
    await connection.close();
  }
  const inBackup = migrationFiles(options.migrationsDir).filter((name) => !verified.pendingMigrations.includes(name));
  const missing = live.filter((name) => !inBackup.includes(name));
  if (missing.length) {
    throw new OpsError(
      `The database has migrations the backup does not (${missing.join(', ')}): restore replaces only the tables the backup has, ` +
        'so their tables would stay. Restore into a new, empty database (point DATABASE_URL at it) instead.',
    );
  }

  fs.mkdirSync(target.dataDir, { recursive: true });
  const stamp = new Date(options.now ?? Date.now()).toISOString().replace(/[:.]/g, '-');
  const previousCopy = path.join(target.dataDir, `postgres-before-restore-${stamp}.dump`);
  await backupPostgres(target.databaseUrl, previousCopy);

  const { dbname, env } = clientConnection(target.databaseUrl);
  // --no-owner/--no-privileges: the objects belong to the user restoring, whichever roles the source had.
  await runPostgresTool(
    'pg_restore',
    ['--clean', '--if-exists', '--no-owner', '--no-privileges', '--single-transaction', '--exit-on-error', `--dbname=${dbname}`, source],
    env,
  );
  return { ...verified, previousCopy };
}
