import http from 'node:http';
import { createApp } from './app';
import { closeApp } from './lifecycle';
import { bootstrap } from './bootstrap';
import { systemClock } from './clock';
import { ConfigError, ensureSessionSecret, loadConfig } from './config';
import { migrate } from './db/migrate';
import { openDatabase } from './db/open';
import { createLogger } from './log';

async function main(): Promise<void> {
  let config;
  try {
    config = ensureSessionSecret(loadConfig());
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const db = openDatabase(config.databaseFile);
  const applied = migrate(db);
  if (applied.length) logger.info({ applied }, 'database migrated');
  await bootstrap(config, db, systemClock, logger);

  const app = createApp({ config, db, clock: systemClock, logger });
  const server = http.createServer(app);
  server.keepAliveTimeout = 5_000;
  server.listen(config.port, () => logger.info({ port: config.port, publicUrl: config.publicUrl, database: config.databaseFile }, 'console listening'));

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing requests');
    const force = setTimeout(() => {
      logger.error('requests still running after 10 s; closing anyway');
      server.closeAllConnections();
    }, 10_000);
    force.unref();
    server.close(() => {
      closeApp(app);
      db.close();
      logger.info('stopped cleanly');
      process.exit(0);
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`Failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
