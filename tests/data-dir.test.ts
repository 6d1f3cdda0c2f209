import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrateSqlite } from '../src/db/migrate';
import { openDatabase } from '../src/db/open';
import { ensureBuilt, freePort, runCli, startServer } from './ops-support';
import type { RunningServer } from './ops-support';

/**
 * DATA_DIR at rest, with the real built server (`npm start` runs dist/src/server.js) and CLI as separate
 * processes. This test process keeps the usual umask (022), as a shell does: the console must not rely on it.
 */

const tempDirs: string[] = [];
const servers: RunningServer[] = [];
afterAll(() => tempDirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.child.kill('SIGTERM');
    await server.exited;
  }
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-modes-'));
  tempDirs.push(dir);
  return dir;
}

/** A 0700 data directory with a migrated database, made by this process (umask 022: the database is 0644). */
function dataDirWithDatabase(): string {
  const dataDir = tempDir();
  fs.chmodSync(dataDir, 0o700);
  const db = openDatabase(path.join(dataDir, 'console.sqlite'));
  migrateSqlite(db);
  db.close();
  return dataDir;
}

const modeOf = (file: string): string => `0${(fs.statSync(file).mode & 0o777).toString(8)}`;

async function start(dataDir: string): Promise<RunningServer> {
  const server = await startServer({ DATA_DIR: dataDir }, await freePort());
  servers.push(server);
  return server;
}

/** Every file in the directory with its mode, by name (the lock file's name carries host and pid). */
function modes(dataDir: string): Record<string, string> {
  return Object.fromEntries(fs.readdirSync(dataDir).map((name) => [name.replace(/^server-.+\.lock$/, 'server-*.lock'), modeOf(path.join(dataDir, name))]));
}

const PRIVATE_FILES = {
  'console.sqlite': '0600',
  'console.sqlite-wal': '0600',
  'console.sqlite-shm': '0600',
  'session-secret': '0600',
  'server-*.lock': '0600',
};

describe('DATA_DIR under npm start', () => {
  beforeAll(() => ensureBuilt(), 180_000);

  it('creates the directory 0700 and every file in it 0600, and warns about nothing', async () => {
    const dataDir = path.join(tempDir(), 'data'); // does not exist yet
    const server = await start(dataDir);
    expect(modeOf(dataDir)).toBe('0700');
    expect(modes(dataDir)).toEqual(PRIVATE_FILES);
    expect(server.output()).not.toContain('DATA_DIR');
  });

  it('warns once at start when an existing directory is wider than 0700, with its path, its mode and the fix', async () => {
    const dataDir = path.join(tempDir(), 'data');
    fs.mkdirSync(dataDir);
    fs.chmodSync(dataDir, 0o755);
    const server = await start(dataDir);
    const warnings = server
      .output()
      .split('\n')
      .filter((line) => line.includes('"mode":"0755"'))
      .map((line) => {
        const { level, dataDir: dir, mode, msg } = JSON.parse(line) as Record<string, unknown>;
        return { level, dataDir: dir, mode, msg };
      });
    expect(warnings).toEqual([
      {
        level: 40,
        dataDir,
        mode: '0755',
        msg: `DATA_DIR ${dataDir} has mode 0755: other local users can read the database and the session secret in it. Restrict it to the console's user with: chmod 700 ${dataDir}`,
      },
    ]);
    // The operator's directory is theirs to change; what the console writes into it is private anyway.
    expect(modeOf(dataDir)).toBe('0755');
    expect(modes(dataDir)).toEqual(PRIVATE_FILES);
  });

  it('makes the database and session secret an older version left readable (0644) owner-only before it opens them', async () => {
    const dataDir = dataDirWithDatabase();
    fs.writeFileSync(path.join(dataDir, 'session-secret'), 's'.repeat(48));
    fs.chmodSync(path.join(dataDir, 'console.sqlite'), 0o644);
    fs.chmodSync(path.join(dataDir, 'session-secret'), 0o644);
    await start(dataDir);
    // The -wal and -shm SQLite makes now take the database file's mode: 0600 too.
    expect(modes(dataDir)).toEqual(PRIVATE_FILES);
  });

  it('writes backups 0600 (npm run cli -- backup), also into a directory others may read', async () => {
    const dataDir = dataDirWithDatabase();
    const shared = tempDir();
    fs.chmodSync(shared, 0o755);
    const target = path.join(shared, 'backup.sqlite');
    const result = await runCli(['backup', target], { DATA_DIR: dataDir });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(modeOf(target)).toBe('0600');
  });
});
