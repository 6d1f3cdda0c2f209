import crypto from 'node:crypto';
import express, { Router } from 'express';
import type { Express, Response } from 'express';
import type { Logger } from '../log';
import type { Metrics } from './metrics';

const CHALLENGE = 'Bearer realm="metrics"';

const digest = (value: string): Buffer => crypto.createHash('sha256').update(value).digest();

/**
 * Whether the Authorization header carries the scrape token. Both sides are hashed first, so the
 * comparison takes the same time whatever was sent (its length included) and reveals nothing of the token.
 */
function presentsToken(header: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer +([^\s]+) *$/i.exec(header ?? '');
  return crypto.timingSafeEqual(digest(match ? match[1] : ''), expected) && match !== null;
}

function refuse(res: Response, description: string): void {
  res.status(401).set({ 'WWW-Authenticate': CHALLENGE, 'Cache-Control': 'no-store' }).json({ error: 'unauthorized', error_description: description });
}

/**
 * GET /metrics in the Prometheus text format, for a scraper that sends `Authorization: Bearer
 * <METRICS_TOKEN>`. Mounted only when METRICS_TOKEN is set (otherwise /metrics is an unknown page).
 */
export function metricsRouter(metrics: Metrics, token: string, logger: Logger): Router {
  const expected = digest(token);
  const router = Router();
  router.get('/metrics', async (req, res) => {
    if (req.headers.authorization === undefined) return refuse(res, 'Send the metrics token: Authorization: Bearer <METRICS_TOKEN>.');
    if (!presentsToken(req.headers.authorization, expected)) return refuse(res, 'The metrics token is not valid.');
    try {
      const { contentType, body } = await metrics.scrape();
      res.status(200).set({ 'Content-Type': contentType, 'Cache-Control': 'no-store' }).send(body);
    } catch (err) {
      logger.error({ err }, 'metrics scrape failed');
      // The database did not answer the gauges' counts: Prometheus records the scrape as failed (up == 0).
      res.status(503).set('Cache-Control', 'no-store').json({ error: 'unavailable', error_description: 'The metrics could not be read; see the server log.' });
    }
  });
  return router;
}

/** The app of the optional METRICS_PORT listener: /metrics with the same token rule, and nothing else. */
export function metricsOnlyApp(metrics: Metrics, token: string, logger: Logger): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(metricsRouter(metrics, token, logger));
  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found', error_description: 'This port serves only GET /metrics.' });
  });
  return app;
}
