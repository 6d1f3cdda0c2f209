import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * A throwaway PostgreSQL server for the tests, from Debian's `postgresql` package: initdb into a
 * temporary directory, pg_ctl on a free port (socket in /tmp), stopped and deleted at the end, just as
 * the nginx test owns its nginx. Nothing about it survives the run.
 */
export interface Cluster {
  port: number;
  dataDir: string;
  /** postgres://postgres@127.0.0.1:PORT/NAME */
  url(database: string): string;
  /** Runs one SQL command with psql, synchronously (tests create their databases this way). */
  psql(command: string, database?: string): string;
  stop(): void;
}

/** The newest installed server's bin directory, e.g. /usr/lib/postgresql/15/bin. */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'postgres'))) : [];
  if (!versions.length)
    throw new Error(
      "PostgreSQL is not installed, and the PostgreSQL tests do not skip. Install Debian's package (apt-get install -y postgresql) and run them again.",
    );
  versions.sort((a, b) => Number(b) - Number(a));
  return path.join(root, versions[0], 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** initdb refuses to run as root: as root, the server's programs run as the `postgres` user. */
function asServerUser(program: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', program, ...args]] : [program, args];
}

function run(program: string, args: string[]): string {
  const [command, argv] = asServerUser(program, args);
  const result = spawnSync(command, argv, { encoding: 'utf8' });
  if (result.status !== 0)
    throw new Error(`${program} ${args.join(' ')} failed (${result.status}): ${result.stderr || result.stdout || result.error?.message}`);
  return result.stdout;
}

function psqlOn(bin: string, port: number): Cluster['psql'] {
  const args = ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'];
  return (command, database = 'postgres') => execFileSync(path.join(bin, 'psql'), [...args, '-d', database, '-c', command], { encoding: 'utf8' });
}

export async function startCluster(): Promise<Cluster> {
  const bin = postgresBinDir();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'console-pg-'));
  const dataDir = path.join(base, 'data');
  const socketDir = path.join(base, 'sock');
  fs.mkdirSync(socketDir);
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', base]);
  run(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '-N']);
  const port = await freePort();
  // Durability off: a test cluster is thrown away, and fsync on every commit would slow the suite several times over.
  const options = `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  run(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-o', options, '-l', path.join(base, 'server.log'), '-w', '-t', '60', 'start']);
  const cluster: Cluster = {
    port,
    dataDir,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    psql: psqlOn(bin, port),
    stop: () => {
      try {
        run(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      } finally {
        fs.rmSync(base, { recursive: true, force: true });
      }
    },
  };
  return cluster;
}

/** A cluster started by the test run's global setup (TEST_ENGINE=postgres), seen from a test file. */
export function runningCluster(): Cluster | null {
  const port = process.env.TEST_PG_PORT;
  if (!port) return null;
  const bin = postgresBinDir();
  return {
    port: Number(port),
    dataDir: '',
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    psql: psqlOn(bin, Number(port)),
    stop: () => undefined,
  };
}

/** The migrated, empty database every test context copies (CREATE DATABASE ... TEMPLATE). */
export const TEMPLATE_DATABASE = 'console_template';
