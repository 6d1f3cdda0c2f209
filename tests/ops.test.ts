import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SqliteFile from 'better-sqlite3';
import ts from 'typescript';
import { sql } from 'kysely';
import { FakeClock } from '../src/clock';
import { connect } from '../src/db/connect';
import { transactionOnce } from '../src/db/connect';
import type { Connection, Database } from '../src/db/connect';
import { migrate, migrationFiles, migrateSqlite } from '../src/db/migrate';
import { openDatabase } from '../src/db/open';
import { backupDatabase, backupPostgres } from '../src/ops/backup';
import { OpsError } from '../src/ops/errors';
import { clientConnection } from '../src/ops/postgres-tools';
import { PRUNE_LOCK_KEY, prune } from '../src/ops/prune';
import { restoreDatabase, restorePostgres, verifyDatabaseFile } from '../src/ops/restore';
import { acquireServerLock, findRunningServers } from '../src/ops/server-lock';
import { ROOT } from '../src/paths';
import { runningCluster, startCluster } from './support/postgres';
import type { Cluster } from './support/postgres';

const tempDirs: string[] = [];
afterAll(() => tempDirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-ops-'));
  tempDirs.push(dir);
  return dir;
}

/** A data directory with a migrated database holding one company; closed, as after a clean stop. */
function dataDirWithDatabase(companyName = 'Acme'): { dataDir: string; databaseFile: string } {
  const dataDir = tempDir();
  const databaseFile = path.join(dataDir, 'console.sqlite');
  const db = openDatabase(databaseFile);
  migrateSqlite(db);
  db.prepare('INSERT INTO companies (name, created_at) VALUES (?, 0)').run(companyName);
  db.close();
  return { dataDir, databaseFile };
}

function companies(file: string): string[] {
  const db = new SqliteFile(file, { readonly: true });
  try {
    return db.prepare('SELECT name FROM companies ORDER BY id').pluck().all() as string[];
  } finally {
    db.close();
  }
}

const digest = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/**
 * Another process writing to the database as fast as it can, as a serving server does: each
 * transaction inserts 10 audit rows with the same batch number, so a torn copy would show a batch
 * with fewer. It prints "ready" once writing, and its batch count when told to stop.
 */
function startWriter(databaseFile: string): Promise<ChildProcess> {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(${JSON.stringify(databaseFile)});
    db.pragma('journal_mode = WAL'); db.pragma('busy_timeout = 5000');
    const insert = db.prepare("INSERT INTO audit_log (at, actor, action, target) VALUES (?, 'writer', 'test.batch', ?)");
    const batch = db.transaction((n) => { for (let i = 0; i < 10; i++) insert.run(Date.now(), String(n)); });
    let n = 0, stop = false;
    process.on('message', () => { stop = true; });
    (function loop() {
      for (let k = 0; k < 20; k++) batch(n++);
      if (n === 200) process.stdout.write('ready\\n');
      if (stop) { db.close(); process.send(n, () => process.exit(0)); } else setImmediate(loop);
    })();`;
  const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`writer exited early (${code})`)));
  });
}

describe('backupDatabase (npm run cli -- backup <file>)', () => {
  it('makes a whole, consistent copy while another process keeps writing', async () => {
    const { dataDir, databaseFile } = dataDirWithDatabase();
    const writer = await startWriter(databaseFile);
    const target = path.join(dataDir, 'backup.sqlite');
    const result = await backupDatabase(databaseFile, target);
    const written = await new Promise<number>((resolve) => {
      writer.once('message', (n) => resolve(n as number));
      writer.send('stop');
    });
    await new Promise((resolve) => writer.once('exit', resolve));

    expect(result.target).toBe(target);
    expect(fs.existsSync(`${target}-wal`)).toBe(false);
    const copy = new SqliteFile(target, { readonly: true });
    expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(copy.pragma('journal_mode', { simple: true })).toBe('delete');
    const batches = copy.prepare("SELECT target, COUNT(*) AS n FROM audit_log WHERE action = 'test.batch' GROUP BY target").all() as { n: number }[];
    copy.close();
    // Taken while writing was under way: some batches, not all, and every one of them whole.
    expect(batches.length).toBeGreaterThanOrEqual(200);
    expect(batches.length).toBeLessThan(written);
    expect(batches.every((b) => b.n === 10)).toBe(true);
    expect(verifyDatabaseFile(target).companies).toBe(1);
  });

  it('never overwrites an existing file', async () => {
    const { dataDir, databaseFile } = dataDirWithDatabase();
    const target = path.join(dataDir, 'taken.sqlite');
    fs.writeFileSync(target, 'keep me');
    await expect(backupDatabase(databaseFile, target)).rejects.toThrow(/already exists/);
    expect(fs.readFileSync(target, 'utf8')).toBe('keep me');
  });

  it('says so when the directory or the database is missing', async () => {
    const { dataDir, databaseFile } = dataDirWithDatabase();
    await expect(backupDatabase(databaseFile, path.join(dataDir, 'no', 'such', 'dir.sqlite'))).rejects.toThrow(/does not exist/);
    await expect(backupDatabase(path.join(dataDir, 'missing.sqlite'), path.join(dataDir, 'b.sqlite'))).rejects.toThrow(/no database/);
    await expect(backupDatabase(databaseFile, databaseFile)).rejects.toThrow(/live database/);
  });
});

describe('restoreDatabase (npm run cli -- restore <file>)', () => {
  it('puts the backup in place, keeps the replaced database, leaves no -wal behind', async () => {
    const { dataDir, databaseFile } = dataDirWithDatabase('Before');
    const backup = path.join(dataDir, 'backup.sqlite');
    await backupDatabase(databaseFile, backup);
    const db = openDatabase(databaseFile);
    db.prepare("INSERT INTO companies (name, created_at) VALUES ('Added later', 0)").run();
    db.close();

    const result = await restoreDatabase({ dataDir, databaseFile }, backup, { now: Date.UTC(2026, 0, 2, 3, 4, 5) });

    expect(companies(databaseFile)).toEqual(['Before']);
    expect(result.previousCopy).toBe(`${databaseFile}.before-restore-2026-01-02T03-04-05-000Z`);
    expect(companies(result.previousCopy!)).toEqual(['Before', 'Added later']);
    expect(fs.existsSync(`${databaseFile}-wal`)).toBe(false);
    expect(fs.readdirSync(dataDir).filter((f) => f.includes('.restore-'))).toEqual([]);
    const reopened = openDatabase(databaseFile);
    expect(migrateSqlite(reopened)).toEqual([]);
    expect(reopened.pragma('integrity_check', { simple: true })).toBe('ok');
    reopened.close();
  });

  it('restores a raw copy of a cleanly closed WAL-mode database too', async () => {
    const source = dataDirWithDatabase('Raw copy');
    const { dataDir, databaseFile } = dataDirWithDatabase('Current');
    const raw = path.join(dataDir, 'raw.sqlite');
    fs.copyFileSync(source.databaseFile, raw);
    await restoreDatabase({ dataDir, databaseFile }, raw);
    expect(companies(databaseFile)).toEqual(['Raw copy']);
  });

  it('refuses while a server holds the data directory, and says how to proceed', async () => {
    const { dataDir, databaseFile } = dataDirWithDatabase('Live');
    const backup = path.join(dataDir, 'backup.sqlite');
    await backupDatabase(databaseFile, backup);
    const before = digest(databaseFile);
    const lock = acquireServerLock(dataDir);
    try {
      expect(findRunningServers(dataDir).map((l) => l.pid)).toEqual([process.pid]);
      await expect(restoreDatabase({ dataDir, databaseFile }, backup)).rejects.toThrow(/server is running.*Stop it first/);
    } finally {
      lock.release();
    }
    expect(digest(databaseFile)).toBe(before);
    expect(findRunningServers(dataDir)).toEqual([]);
    await expect(restoreDatabase({ dataDir, databaseFile }, backup)).resolves.toMatchObject({ companies: 1 });
  });

  it('refuses while a real server process runs, and proceeds once it was killed (its lock is stale)', async () => {
    const { dataDir, databaseFile } = dataDirWithDatabase('Live');
    const backup = path.join(dataDir, 'backup.sqlite');
    await backupDatabase(databaseFile, backup);
    // A stand-in server: takes the lock with the real module, exactly as src/server.ts does, then waits to be killed.
    const lockModule = path.join(dataDir, 'server-lock.js');
    const source = fs.readFileSync(path.join(ROOT, 'src/ops/server-lock.ts'), 'utf8');
    fs.writeFileSync(lockModule, ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, esModuleInterop: true } }).outputText);
    const child = spawn(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(lockModule)}).acquireServerLock(${JSON.stringify(dataDir)}); process.stdout.write('locked\\n'); setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise((resolve) => child.stdout.once('data', resolve));
    await expect(restoreDatabase({ dataDir, databaseFile }, backup)).rejects.toThrow(new RegExp(`pid ${child.pid}`));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(fs.readdirSync(dataDir).some((f) => f.startsWith('server-'))).toBe(true); // left behind by the crash
    await expect(restoreDatabase({ dataDir, databaseFile }, backup)).resolves.toMatchObject({ companies: 1 });
  });

  describe('verifies the file first and leaves the database untouched when it is not good', () => {
    let dataDir: string;
    let databaseFile: string;
    let before: string;
    beforeEach(() => {
      ({ dataDir, databaseFile } = dataDirWithDatabase('Untouched'));
      before = digest(databaseFile);
    });
    afterEach(() => {
      expect(digest(databaseFile)).toBe(before);
      expect(companies(databaseFile)).toEqual(['Untouched']);
    });
    const refused = (file: string, message: RegExp) => expect(restoreDatabase({ dataDir, databaseFile }, file)).rejects.toThrow(message);

    it('a corrupt backup (damaged pages) is refused', async () => {
      const backup = path.join(dataDir, 'backup.sqlite');
      const db = openDatabase(path.join(dataDir, 'big.sqlite'));
      migrateSqlite(db);
      const insert = db.prepare("INSERT INTO audit_log (at, actor, action, details) VALUES (0, 'x', 'y', ?)");
      for (let i = 0; i < 500; i++) insert.run('z'.repeat(300));
      db.close();
      await backupDatabase(path.join(dataDir, 'big.sqlite'), backup);
      const bytes = fs.readFileSync(backup);
      const pageSize = bytes.readUInt16BE(16);
      // Scribble over the middle of the file, page headers included.
      for (let page = 3; page < bytes.length / pageSize - 1; page += 2) bytes.fill(0xa5, page * pageSize, page * pageSize + 64);
      fs.writeFileSync(backup, bytes);
      await refused(backup, /integrity check|cannot be read/);
    });

    it('a file that is not SQLite is refused', async () => {
      const file = path.join(dataDir, 'notes.txt');
      fs.writeFileSync(file, 'x'.repeat(4096));
      await refused(file, /not an SQLite database/);
      await refused(path.join(dataDir, 'missing.sqlite'), /does not exist/);
      await refused(dataDir, /not a file/);
    });

    it('an SQLite file of some other application is refused', async () => {
      const file = path.join(dataDir, 'other.sqlite');
      const db = new SqliteFile(file);
      db.exec('CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES (1)');
      db.close();
      await refused(file, /not one of this console/);
    });

    it('a file from a newer version (an unknown migration) is refused', async () => {
      const backup = path.join(dataDir, 'backup.sqlite');
      await backupDatabase(databaseFile, backup);
      const db = new SqliteFile(backup);
      db.prepare("INSERT INTO schema_migrations (name, applied_at) VALUES ('9999_from_the_future.sql', 0)").run();
      db.close();
      await refused(backup, /newer version.*9999_from_the_future\.sql/);
    });

    it('the live database itself is refused', async () => {
      await refused(databaseFile, /live database/);
    });
  });

  it('a refusal is an OpsError (the CLI prints it and exits with 1)', async () => {
    const { dataDir, databaseFile } = dataDirWithDatabase();
    await expect(restoreDatabase({ dataDir, databaseFile }, path.join(dataDir, 'nope'))).rejects.toBeInstanceOf(OpsError);
  });
});

/**
 * Backup and restore on PostgreSQL (DATABASE_URL): pg_dump and pg_restore against a throwaway cluster, the
 * run's own when TEST_ENGINE=postgres, else one started here (these tests run on both runs and never skip).
 */
describe('backup and restore on PostgreSQL', () => {
  let cluster: Pick<Cluster, 'port' | 'url' | 'psql'>;
  let ownCluster: Cluster | undefined;
  let counter = 0;
  const opened: Connection[] = [];
  beforeAll(async () => {
    const running = runningCluster();
    if (running) cluster = running;
    else cluster = ownCluster = await startCluster();
  }, 120_000);
  afterAll(async () => {
    await Promise.all(opened.map((c) => c.close()));
    ownCluster?.stop();
  });

  /** A new database on the cluster: migrated (with the given companies) or left empty. */
  async function newDatabase(companyNames: string[] | null): Promise<{ url: string; db: Database }> {
    const name = `ops_${process.pid}_${++counter}`;
    cluster.psql(`CREATE DATABASE ${name}`);
    const url = cluster.url(name);
    const connection = connect({ databaseUrl: url, databaseFile: '', poolSize: 2 });
    opened.push(connection);
    if (companyNames) {
      await migrate(connection);
      for (const companyName of companyNames) await connection.db.insertInto('companies').values({ name: companyName, created_at: 0 }).execute();
    }
    return { url, db: connection.db };
  }
  const names = async (db: Database) => (await db.selectFrom('companies').select('name').orderBy('id').execute()).map((row) => row.name);

  it('backs up with pg_dump while another connection writes, and restores into an empty database', async () => {
    const { url, db } = await newDatabase(['Acme', 'Globex']);
    const dir = tempDir();
    let writing = true;
    const writer = (async () => {
      let n = 0;
      while (writing) await db.insertInto('audit_log').values({ at: n++, actor: 'writer', action: 'test.batch' }).execute();
      return n;
    })();
    const result = await backupPostgres(url, path.join(dir, 'nightly.dump'));
    writing = false;
    await writer;

    expect(result.target).toBe(path.join(dir, 'nightly.dump'));
    expect(fs.statSync(result.target).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(result.target).subarray(0, 5).toString('latin1')).toBe('PGDMP');
    expect(fs.readdirSync(dir)).toEqual(['nightly.dump']);
    await expect(backupPostgres(url, result.target)).rejects.toThrow(/already exists/);
    await expect(backupPostgres(url, path.join(dir, 'no', 'such.dump'))).rejects.toThrow(/does not exist/);

    const empty = await newDatabase(null);
    const restored = await restorePostgres({ dataDir: dir, databaseUrl: empty.url }, result.target);
    expect(restored).toMatchObject({ companies: 2, users: 0, migrations: migrationFiles().length, pendingMigrations: [] });
    expect(await names(empty.db)).toEqual(['Acme', 'Globex']);
    const migrated = await empty.db.selectFrom('schema_migrations').select('name').orderBy('name').execute();
    expect(migrated.map((row) => row.name)).toEqual(migrationFiles());
  });

  it('replaces the contents with the backup, keeping a dump of the database as it was', async () => {
    const { url, db } = await newDatabase(['Before']);
    const dataDir = tempDir();
    const backup = path.join(dataDir, 'backup.dump');
    await backupPostgres(url, backup);
    await db.insertInto('companies').values({ name: 'Added later', created_at: 0 }).execute();

    const result = await restorePostgres({ dataDir, databaseUrl: url }, backup, { now: Date.UTC(2026, 0, 2, 3, 4, 5) });

    expect(await names(db)).toEqual(['Before']);
    expect(result.previousCopy).toBe(path.join(dataDir, 'postgres-before-restore-2026-01-02T03-04-05-000Z.dump'));
    const check = await newDatabase(null);
    await restorePostgres({ dataDir: tempDir(), databaseUrl: check.url }, result.previousCopy);
    expect(await names(check.db)).toEqual(['Before', 'Added later']);
    // Restored tables take new rows as before: the id sequences came back with them.
    await db.insertInto('companies').values({ name: 'After', created_at: 0 }).execute();
    expect(await names(db)).toEqual(['Before', 'After']);
  });

  describe('verifies the dump first and leaves the database untouched when it is not good', () => {
    let target: { url: string; db: Database };
    let dataDir: string;
    beforeEach(async () => {
      target = await newDatabase(['Untouched']);
      dataDir = tempDir();
    });
    afterEach(async () => {
      expect(await names(target.db)).toEqual(['Untouched']);
      expect(fs.readdirSync(dataDir).filter((f) => f.startsWith('postgres-before-restore-'))).toEqual([]);
    });
    const refused = (file: string, message: RegExp) => expect(restorePostgres({ dataDir, databaseUrl: target.url }, file)).rejects.toThrow(message);

    it('a file that is not a dump, or an SQLite backup, is refused', async () => {
      const text = path.join(dataDir, 'notes.txt');
      fs.writeFileSync(text, 'x'.repeat(4096));
      await refused(text, /not a PostgreSQL dump in pg_dump's custom format/);
      await refused(dataDirWithDatabase().databaseFile, /not a PostgreSQL dump/);
      await refused(path.join(dataDir, 'missing.dump'), /does not exist/);
      await refused(dataDir, /not a file/);
    });

    it('a damaged dump is refused', async () => {
      const source = await newDatabase(['Source']);
      const backup = path.join(dataDir, 'backup.dump');
      await backupPostgres(source.url, backup);
      const bytes = fs.readFileSync(backup);
      fs.writeFileSync(backup, bytes.subarray(0, Math.floor(bytes.length / 2)));
      await refused(backup, /cannot be read as a dump|pg_restore failed/);
    });

    it('a dump of some other application is refused', async () => {
      const other = await newDatabase(null);
      await sql`create table notes (body text)`.execute(other.db);
      const backup = path.join(dataDir, 'other.dump');
      await backupPostgres(other.url, backup);
      await refused(backup, /not one of this console/);
    });

    it('a dump from a newer version (an unknown migration) is refused', async () => {
      const newer = await newDatabase(['Newer']);
      await newer.db.insertInto('schema_migrations').values({ name: '9999_from_the_future.sql', applied_at: 0 }).execute();
      const backup = path.join(dataDir, 'newer.dump');
      await backupPostgres(newer.url, backup);
      await refused(backup, /newer version.*9999_from_the_future\.sql/);
    });

    it('a dump older than the database (it lacks a migration the database has) is refused', async () => {
      const backup = path.join(dataDir, 'backup.dump');
      await backupPostgres(target.url, backup);
      await target.db.insertInto('schema_migrations').values({ name: '9998_applied_later.sql', applied_at: 0 }).execute();
      await refused(backup, /has migrations the backup does not \(9998_applied_later\.sql\)/);
      await target.db.deleteFrom('schema_migrations').where('name', '=', '9998_applied_later.sql').execute();
    });
  });

  it('hands the password to pg_dump in PGPASSWORD, never on its command line', () => {
    const { dbname, env } = clientConnection('postgres://console:p%40ss%20word@db.internal:5433/console?sslmode=require', {});
    expect(dbname).toBe('postgres://console@db.internal:5433/console?sslmode=require');
    expect(env).toEqual({ PGPASSWORD: 'p@ss word' });
    expect(clientConnection('postgres://console@db.internal/console', {})).toEqual({ dbname: 'postgres://console@db.internal/console', env: {} });
  });

  it('prune runs when no other process holds its lock, and lets go of the lock after success or failure', async () => {
    const { db } = await newDatabase(['Acme']);
    const addCompany = (name: string) => async (trx: Database) => {
      await trx.insertInto('companies').values({ name, created_at: 0 }).execute();
      return name;
    };
    expect(await transactionOnce(db, PRUNE_LOCK_KEY, addCompany('First'))).toBe('First');
    const failing = async (trx: Database) => {
      await addCompany('Lost')(trx);
      throw new Error('crash half-way');
    };
    await expect(transactionOnce(db, PRUNE_LOCK_KEY, failing)).rejects.toThrow('crash half-way');
    expect(await transactionOnce(db, PRUNE_LOCK_KEY, addCompany('Second'))).toBe('Second');
    expect(await names(db)).toEqual(['Acme', 'First', 'Second']);
    const held = await sql<{ n: number }>`select count(*)::int as n from pg_locks where locktype = 'advisory'`.execute(db);
    expect(held.rows).toEqual([{ n: 0 }]);
  });

  it('prune skips, changing nothing, while another process prunes the same database', async () => {
    const { url, db } = await newDatabase(['Acme']);
    const other = connect({ databaseUrl: url, databaseFile: '', poolSize: 1 });
    opened.push(other);
    await other.db.connection().execute(async (conn) => {
      await sql`select pg_advisory_lock(${PRUNE_LOCK_KEY})`.execute(conn);
      try {
        expect(await prune({ db, clock: new FakeClock(Date.now()) }, { auditDays: 1 })).toBeUndefined();
      } finally {
        await sql`select pg_advisory_unlock(${PRUNE_LOCK_KEY})`.execute(conn);
      }
    });
    expect(await db.selectFrom('audit_log').select('action').execute()).toEqual([]);
  });
});
