import express, { Router } from 'express';
import { actorFrom } from '../../http/actor';
import { HttpError } from '../../http/errors';
import { validate } from '../../http/validate';
import { reportLeakedSecrets } from '../../features/credentials/leaks';
import type { CredentialsDeps } from '../../features/credentials/service';
import { LEAK_REPORT_BODY_LIMIT, LeakReportSchema } from './schema';
import type { LeakReportThrottle } from './throttle';

export interface LeakReportRouterDeps {
  credentials: CredentialsDeps;
  throttle: LeakReportThrottle;
}

export const LEAK_REPORT_PATH = '/api/v1/credentials/leaked';

/** The one answer to every report that could be read, whatever it held: it never tells which strings were ours. */
export const LEAK_REPORT_ACCEPTED = {
  message: 'Thank you. Every credential in this report that this console issued is revoked or reported to its owners, as their policy says.',
};

/**
 * POST /api/v1/credentials/leaked: anyone who found our API keys or client secrets (a secret scanner,
 * a person) reports them, without credentials of their own (decision 0020). Throttled per source
 * before the body is read; the body is JSON, size-limited, with at most 100 strings.
 */
export function leakReportRouter(deps: LeakReportRouterDeps): Router {
  const router = Router();

  router.post(
    LEAK_REPORT_PATH,
    async (req, _res, next) => {
      const wait = await deps.throttle.admit(req.ip ?? 'unknown');
      if (wait > 0)
        throw new HttpError(429, 'too_many_requests', `Too many leak reports from this address. Try again in ${wait} seconds.`, {
          'Retry-After': String(wait),
        });
      if (!req.is('application/json')) throw new HttpError(415, 'unsupported_media_type', 'Send the report as JSON, with Content-Type: application/json.');
      next();
    },
    express.json({ limit: LEAK_REPORT_BODY_LIMIT, strict: false }),
    async (req, res) => {
      const input = validate(LeakReportSchema, req.body);
      if (!input.ok) throw new HttpError(400, 'invalid_request', Object.values(input.errors)[0]);
      await reportLeakedSecrets(deps.credentials, { secrets: input.data.credentials, url: input.data.url ?? null }, actorFrom(req, 'leak report'));
      res.status(202).set('Cache-Control', 'no-store').json(LEAK_REPORT_ACCEPTED);
    },
  );

  router.all(LEAK_REPORT_PATH, (req, _res, next) =>
    next(new HttpError(405, 'invalid_request', `${req.method} is not allowed here; use POST.`, { Allow: 'POST' })),
  );
  return router;
}
