import { Router } from 'express';
import { createMigrationCounter } from '../../db/migrate';
import type { Db } from '../../db/open';

/** Liveness plus a database round trip, for the container's HEALTHCHECK and load balancers. */
export function healthRouter(db: Db): Router {
  const router = Router();
  const countMigrations = createMigrationCounter(db);
  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store');
    try {
      const migrations = countMigrations();
      res.json({ status: 'ok', database: 'ok', migrations });
    } catch {
      res.status(503).json({ status: 'error', database: 'unavailable' });
    }
  });
  return router;
}
