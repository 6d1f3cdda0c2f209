import { connect } from '../../src/db/connect';
import { migrate } from '../../src/db/migrate';
import { startCluster, TEMPLATE_DATABASE } from './postgres';
import type { Cluster } from './postgres';

/**
 * With TEST_ENGINE=postgres, the whole suite runs on PostgreSQL: this starts one throwaway cluster for
 * the run and migrates a template database that every test context copies. Without it: nothing.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.TEST_ENGINE !== 'postgres') return;
  const cluster = await startCluster();
  (globalThis as { __pgCluster?: Cluster }).__pgCluster = cluster;
  // Also when Jest ends without its global teardown (a crash, a kill): stop() is synchronous and runs once.
  process.once('exit', () => cluster.stop());
  process.env.TEST_PG_PORT = String(cluster.port);
  cluster.psql(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  const connection = connect({ databaseUrl: cluster.url(TEMPLATE_DATABASE), databaseFile: '' });
  try {
    await migrate(connection);
  } finally {
    await connection.close();
  }
}
