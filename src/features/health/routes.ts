import { Router } from 'express';
import type { Db } from '../../db/open';

/** Liveness plus a database round trip, for the container's HEALTHCHECK and load balancers. */
export function healthRouter(db: Db): Router {
  const router = Router();
  const ping = db.prepare('SELECT COUNT(*) FROM schema_migrations').pluck();
  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store');
    try {
      const migrations = ping.get() as number;
      res.json({ status: 'ok', database: 'ok', migrations });
    } catch {
      res.status(503).json({ status: 'error', database: 'unavailable' });
    }
  });
  return router;
}
