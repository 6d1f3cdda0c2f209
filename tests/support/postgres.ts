import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { clusterAt, postgresBinDir } from '../../scripts/postgres-cluster';
import type { ClusterAt } from '../../scripts/postgres-cluster';

/**
 * The tests' throwaway PostgreSQL (scripts/postgres-cluster.js, shared with the benchmark): with
 * TEST_ENGINE=postgres, tests/support/global-setup.ts starts one cluster for the run, and every test
 * context copies a migrated template database from it.
 */
export { startCluster, postgresBinDir } from '../../scripts/postgres-cluster';
export type { Cluster, ClusterAt } from '../../scripts/postgres-cluster';

/** The cluster the run's global setup started (TEST_ENGINE=postgres), seen from a test file. */
export function runningCluster(): ClusterAt | null {
  const port = process.env.TEST_PG_PORT;
  return port ? clusterAt(Number(port)) : null;
}

/** The migrated, empty database every test context copies (CREATE DATABASE ... TEMPLATE). */
export const TEMPLATE_DATABASE = 'console_template';

/**
 * For a server or CLI the tests spawn with DATA_DIR: on a PostgreSQL run (TEST_ENGINE=postgres), the
 * DATABASE_URL of a database that belongs to that data directory (created empty on first use, so the
 * server migrates it itself; the same directory, e.g. after a restart, finds the same database). On
 * SQLite: nothing, the server uses DATA_DIR's file.
 */
export function databaseEnvFor(dataDir: string): { DATABASE_URL?: string } {
  const cluster = runningCluster();
  if (process.env.TEST_ENGINE !== 'postgres' || !cluster) return {};
  const name = `d_${createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 24)}`;
  if (cluster.psql(`SELECT 1 FROM pg_database WHERE datname = '${name}'`).trim() !== '1') cluster.psql(`CREATE DATABASE ${name}`);
  return { DATABASE_URL: cluster.url(name) };
}

/**
 * Everything a spawned server with this DATA_DIR stored, as bytes, for scanning for secrets: its SQLite file
 * and WAL, or on a PostgreSQL run a plain pg_dump of its database.
 */
export function storedBytesFor(dataDir: string): Buffer {
  const { DATABASE_URL } = databaseEnvFor(dataDir);
  if (DATABASE_URL) return execFileSync(path.join(postgresBinDir(), 'pg_dump'), ['--data-only', DATABASE_URL], { maxBuffer: 64 * 1024 * 1024 });
  const files = fs.readdirSync(dataDir).filter((f) => f.startsWith('console.sqlite'));
  if (!files.includes('console.sqlite')) throw new Error(`no console.sqlite in ${dataDir}`);
  return Buffer.concat(files.map((f) => fs.readFileSync(path.join(dataDir, f))));
}
