import { Router } from 'express';
import type { Database } from '../../db/connect';
import { createMigrationCounter } from '../../db/maintenance';

/** A probe answers within this, database or not: a PostgreSQL server that does not answer is unavailable, not slow. */
const PROBE_TIMEOUT_MS = 3_000;

function withinTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error('database probe timed out')), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Liveness plus a database round trip, for the container's HEALTHCHECK and load balancers. */
export function healthRouter(db: Database, timeoutMs = PROBE_TIMEOUT_MS): Router {
  const router = Router();
  const countMigrations = createMigrationCounter(db);
  router.get('/healthz', async (_req, res) => {
    res.set('Cache-Control', 'no-store');
    try {
      const migrations = await withinTimeout(countMigrations(), timeoutMs);
      res.json({ status: 'ok', database: 'ok', migrations });
    } catch {
      res.status(503).json({ status: 'error', database: 'unavailable' });
    }
  });
  return router;
}
