import { clusterAt } from '../../scripts/postgres-cluster';
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
