import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { connect } from '../src/db/connect';
import type { Connection } from '../src/db/connect';
import { migrate, migrateSqlite, migrationFiles } from '../src/db/migrate';
import { openDatabase } from '../src/db/open';
import type { Db } from '../src/db/open';
import { MIGRATIONS_DIR, ROOT } from '../src/paths';
import { ensureBuilt } from './ops-support';
import { runningCluster, startCluster } from './support/postgres';
import type { Cluster } from './support/postgres';

describe('migrate', () => {
  let dir: string;
  let db: Db;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-migrate-'));
    db = openDatabase(path.join(dir, 'data', 'console.sqlite'));
  });
  afterEach(() => {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const recorded = (): string[] => db.prepare('SELECT name FROM schema_migrations ORDER BY name').pluck().all() as string[];

  it('applies every migration once, in order, and records each', () => {
    const files = fs
      .readdirSync(MIGRATIONS_DIR)
      .filter((f) => f.endsWith('.sql'))
      .sort();
    expect(files[0]).toBe('0001_foundation.sql');

    expect(migrateSqlite(db)).toEqual(files);
    expect(recorded()).toEqual(files);
    expect(migrateSqlite(db)).toEqual([]);
    expect(recorded()).toEqual(files);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
    expect(tables).toEqual(expect.arrayContaining(['companies', 'users', 'sessions', 'invitations', 'audit_log', 'outbox', 'settings', 'scopes']));
  });

  it('opens the file with WAL, foreign keys and a busy timeout', () => {
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
  });

  it('applies only the new migrations on a later start', () => {
    const own = path.join(dir, 'migrations');
    fs.mkdirSync(own);
    fs.writeFileSync(path.join(own, '0001_first.sql'), 'CREATE TABLE a (id INTEGER PRIMARY KEY) STRICT;');
    expect(migrateSqlite(db, own)).toEqual(['0001_first.sql']);

    fs.writeFileSync(path.join(own, '0002_second.sql'), 'CREATE TABLE b (id INTEGER PRIMARY KEY) STRICT;');
    fs.writeFileSync(path.join(own, 'README.md'), 'not a migration');
    expect(migrateSqlite(db, own)).toEqual(['0002_second.sql']);
    expect(recorded()).toEqual(['0001_first.sql', '0002_second.sql']);
  });

  it('refuses a misnamed migration file instead of skipping it silently', () => {
    const own = path.join(dir, 'migrations');
    fs.mkdirSync(own);
    fs.writeFileSync(path.join(own, '0001_first.sql'), 'CREATE TABLE a (id INTEGER PRIMARY KEY) STRICT;');
    fs.writeFileSync(path.join(own, '0002_Add-Thing.sql'), 'CREATE TABLE c (id INTEGER) STRICT;');
    expect(() => migrateSqlite(db, own)).toThrow('Migration file names must look like 0001_lower_case.sql: 0002_Add-Thing.sql');
    expect(recorded()).toEqual([]);
  });

  it('rolls a failing migration back completely and does not record it', () => {
    const own = path.join(dir, 'migrations');
    fs.mkdirSync(own);
    fs.writeFileSync(path.join(own, '0001_ok.sql'), 'CREATE TABLE a (id INTEGER PRIMARY KEY) STRICT;');
    fs.writeFileSync(path.join(own, '0002_broken.sql'), 'CREATE TABLE b (id INTEGER PRIMARY KEY) STRICT;\nINSERT INTO nowhere VALUES (1);');

    expect(() => migrateSqlite(db, own)).toThrow(/no such table: nowhere/);
    expect(recorded()).toEqual(['0001_ok.sql']);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'b'").get()).toBeUndefined();

    fs.writeFileSync(path.join(own, '0002_broken.sql'), 'CREATE TABLE b (id INTEGER PRIMARY KEY) STRICT;');
    expect(migrateSqlite(db, own)).toEqual(['0002_broken.sql']);
  });
});

describe('migrate on one SQLite file, from several processes at once', () => {
  it('applies each migration once when four processes start together on a new file', async () => {
    ensureBuilt();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-migrate-race-'));
    const file = path.join(dir, 'console.sqlite');
    // Each process opens the file, then waits for the same instant before migrating: all four read the
    // (empty) list of applied migrations together, the race a deployment of several replicas starts with.
    const startAt = Date.now() + 1500;
    const script = `const { openDatabase } = require('./dist/src/db/open'); const { migrateSqlite } = require('./dist/src/db/migrate');
      const db = openDatabase(process.argv[1]); while (Date.now() < ${startAt}) {}
      const done = migrateSqlite(db); db.close(); process.stdout.write(String(done.length));`;
    try {
      const runs = await Promise.all(
        Array.from({ length: 4 }, () => {
          const child = spawn(process.execPath, ['-e', script, file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          child.stdout.on('data', (d: Buffer) => (out += d.toString()));
          child.stderr.on('data', (d: Buffer) => (out += d.toString()));
          return new Promise<{ code: number | null; out: string }>((resolve) => child.once('exit', (code) => resolve({ code, out })));
        }),
      );
      expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0]);
      // Between them they applied every file exactly once.
      expect(runs.reduce((sum, r) => sum + Number(r.out), 0)).toBe(migrationFiles().length);
      const db = openDatabase(file);
      expect(db.prepare('SELECT name FROM schema_migrations ORDER BY name').pluck().all()).toEqual(migrationFiles());
      db.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** migrate() on PostgreSQL, on a throwaway cluster (the run's own with TEST_ENGINE=postgres, else one started here). */
describe('migrate on PostgreSQL', () => {
  let cluster: Pick<Cluster, 'port' | 'url' | 'psql'>;
  let ownCluster: Cluster | undefined;
  let counter = 0;
  const opened: Connection[] = [];
  let dir: string;
  beforeAll(async () => {
    const running = runningCluster();
    if (running) cluster = running;
    else cluster = ownCluster = await startCluster();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-migrate-pg-'));
  }, 120_000);
  afterAll(async () => {
    await Promise.all(opened.map((c) => c.close()));
    ownCluster?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A new, empty database, and `n` connections to it (as `n` replicas would hold). */
  function newDatabase(n = 1): Connection[] {
    const name = `migrate_${process.pid}_${++counter}`;
    cluster.psql(`CREATE DATABASE ${name}`);
    const connections = Array.from({ length: n }, () => connect({ databaseUrl: cluster.url(name), databaseFile: '', poolSize: 2 }));
    opened.push(...connections);
    return connections;
  }
  const recorded = async (c: Connection) => (await c.db.selectFrom('schema_migrations').select('name').orderBy('name').execute()).map((row) => row.name);

  it('applies every migration once, in order, and records each', async () => {
    const [connection] = newDatabase();
    expect(await migrate(connection)).toEqual(migrationFiles());
    expect(await migrate(connection)).toEqual([]);
    expect(await recorded(connection)).toEqual(migrationFiles());
  });

  it('applies each migration once when replicas start together', async () => {
    const replicas = newDatabase(3);
    const applied = await Promise.all(replicas.map((c) => migrate(c)));
    expect(applied.flat().sort()).toEqual(migrationFiles());
    expect(applied.filter((names) => names.length > 0)).toHaveLength(1);
    expect(await recorded(replicas[0])).toEqual(migrationFiles());
  });

  it('rolls a failing migration back completely and does not record it', async () => {
    const [connection] = newDatabase();
    const own = path.join(dir, 'migrations');
    fs.mkdirSync(own);
    fs.writeFileSync(path.join(own, '0001_ok.sql'), 'CREATE TABLE a (id {{id}});');
    fs.writeFileSync(path.join(own, '0002_broken.sql'), 'CREATE TABLE b (id {{id}});\nINSERT INTO nowhere VALUES (1);');
    await expect(migrate(connection, own)).rejects.toThrow(/relation "nowhere" does not exist/);
    expect(await recorded(connection)).toEqual(['0001_ok.sql']);
    const tables = await sql<{ name: string | null }>`select to_regclass('b')::text as name`.execute(connection.db);
    expect(tables.rows).toEqual([{ name: null }]);

    fs.writeFileSync(path.join(own, '0002_broken.sql'), 'CREATE TABLE b (id {{id}});');
    expect(await migrate(connection, own)).toEqual(['0002_broken.sql']);
  });
});
