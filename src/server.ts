import http from 'node:http';
import { createApp } from './app';
import { closeApp } from './lifecycle';
import { bootstrap } from './bootstrap';
import { systemClock } from './clock';
import { ConfigError, describeDatabase, ensureSessionSecret, loadConfig } from './config';
import { restrictNewFiles, secureDataDir } from './data-dir';
import { connect } from './db/connect';
import { migrate } from './db/migrate';
import { createLogger } from './log';
import { createGracefulServer } from './ops/graceful-shutdown';
import { acquireServerLock } from './ops/server-lock';
import { createMetrics } from './metrics/metrics';
import { metricsOnlyApp } from './metrics/routes';

async function main(): Promise<void> {
  restrictNewFiles(); // before anything is written to DATA_DIR: 0700 directories, 0600 files
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  secureDataDir(config, logger);
  config = ensureSessionSecret(config);
  if (config.secureCookies && config.trustProxy === false) {
    // Node serves plain HTTP here, so an https PUBLIC_URL means a TLS proxy in front: without
    // TRUST_PROXY, Express sees http and express-session refuses to send the Secure cookie.
    logger.warn(
      'PUBLIC_URL is https but TRUST_PROXY is not set: sign-in cookies will not be sent. Set TRUST_PROXY (e.g. TRUST_PROXY=1 for one proxy in front).',
    );
  }
  // SQLite only: `restore` refuses while this lock is live (src/ops/server-lock.ts). PostgreSQL's replicas run
  // on other hosts, so restore cannot see them there (docs/operations.md).
  const lock = config.databaseUrl ? undefined : acquireServerLock(config.dataDir);
  // Made before connecting: every statement is timed through onQuery (nothing at all when metrics are off).
  const metrics = createMetrics({ enabled: config.metricsToken !== undefined, engine: config.databaseUrl ? 'postgres' : 'sqlite' });
  const connection = connect({
    databaseUrl: config.databaseUrl,
    databaseFile: config.databaseFile,
    onQuery: metrics.onQuery,
    onConnectionError: (err) => logger.warn({ err }, 'PostgreSQL dropped an idle connection; the next query opens another'),
  });
  const applied = await migrate(connection);
  if (applied.length) logger.info({ applied }, 'database migrated');
  await bootstrap(config, connection.db, systemClock, logger);

  const app = createApp({ config, database: connection.db, clock: systemClock, logger, metrics });
  // Drains before it closes: answers carry `Connection: close`, /healthz says 503 (src/ops/graceful-shutdown.ts).
  const { server, shutdown: drainAndClose } = createGracefulServer(app);
  server.keepAliveTimeout = 5_000;
  server.listen(config.port, () => logger.info({ port: config.port, publicUrl: config.publicUrl, database: describeDatabase(config) }, 'console listening'));
  // METRICS_PORT: /metrics alone, on localhost only (config.ts requires METRICS_TOKEN with it).
  const metricsServer = config.metricsPort && config.metricsToken ? http.createServer(metricsOnlyApp(metrics, config.metricsToken, logger)) : undefined;
  metricsServer?.on('error', (err) => {
    logger.error({ err, port: config.metricsPort }, 'the metrics port could not be opened');
    process.exit(1);
  });
  metricsServer?.listen(config.metricsPort, '127.0.0.1', () => logger.info({ port: config.metricsPort }, 'metrics listening on 127.0.0.1'));

  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down: finishing requests');
    metricsServer?.close();
    metricsServer?.closeAllConnections();
    drainAndClose((forced) => {
      if (forced) logger.error('requests still running after 8 s; their connections were cut');
      void (async () => {
        await closeApp(app); // flushes last-used times, stops timers
        await connection.close(); // the last connection: SQLite checkpoints and removes the -wal
        lock?.release();
        logger.info('stopped cleanly');
        process.exit(0);
      })();
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`Failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
