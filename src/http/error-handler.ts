import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import type { Logger } from '../log';
import { HttpError, notFound } from './errors';
import { isHtmx } from './render';

/** Paths answered in JSON (the platform API); everything else is the HTML console. */
export function wantsJson(req: Request): boolean {
  return /^\/(api|oauth|auth\/verify|\.well-known)(\/|$)/.test(req.path) || req.path.endsWith('.json');
}

/** Errors thrown by body parsers and other middleware, turned into kind, specific ones. */
function toHttpError(err: unknown): HttpError | undefined {
  if (err instanceof HttpError) return err;
  const e = err as { status?: number; statusCode?: number; type?: string; expose?: boolean };
  const status = e?.status ?? e?.statusCode;
  if (typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  switch (e.type) {
    case 'entity.too.large':
      return new HttpError(
        413,
        'payload_too_large',
        `What you sent is too large (the limit is ${Math.round(Number((err as { limit?: number }).limit ?? 32768) / 1024)} kB).`,
      );
    case 'entity.parse.failed':
      return new HttpError(400, 'malformed_body', 'The request body could not be read: it is not valid JSON.');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new HttpError(415, 'unsupported_encoding', 'The request body uses an encoding we do not accept.');
    case 'parameters.too.many':
      return new HttpError(413, 'too_many_parameters', 'The form has too many fields.');
    default:
      return new HttpError(status, 'bad_request', 'The request could not be understood.');
  }
}

/** The error page's heading for a status. */
export function errorHeading(status: number): string {
  if (status === 404) return 'Not found';
  if (status === 403) return 'Not allowed';
  if (status === 429) return 'Please wait';
  if (status >= 500) return 'Something went wrong';
  return 'That did not work';
}

export const notFoundHandler: RequestHandler = (_req, _res, next) => next(notFound());

/** The one error handler: a kind page, fragment or JSON; never a stack trace outside development. */
export function errorHandler(logger: Logger, showStack: boolean): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const known = toHttpError(err);
    const error = known ?? new HttpError(500, 'internal_error', 'Something went wrong on our side. It has been logged; please try again.');
    if (!known) logger.error({ err, method: req.method, path: req.path }, 'unhandled error');
    res.status(error.status).set(error.headers);
    res.set('Cache-Control', 'no-store');
    if (wantsJson(req)) {
      res.json({ error: error.id, error_description: error.message });
      return;
    }
    res.vary('HX-Request');
    const model = {
      status: error.status,
      heading: errorHeading(error.status),
      message: error.message,
      stack: showStack && !known ? String((err as Error)?.stack) : undefined,
    };
    if (isHtmx(req)) {
      // htmx does not swap 4xx/5xx by default; the fragment is swapped into the error region instead.
      res.set('HX-Retarget', '#flash').set('HX-Reswap', 'innerHTML');
      res.render('errors/_error.njk', model);
      return;
    }
    res.render('errors/error.njk', model);
  };
}
