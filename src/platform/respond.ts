import type { Response } from 'express';

/**
 * res.json for the hottest routes (/oauth/token, /api/v1/me): the same bytes without Express's
 * per-response ETag hash and freshness check, which answers that must not be cached never need.
 */
export function sendJson(res: Response, body: unknown, status = 200): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}
