import type { NextFunction, Request, Response } from 'express';
import { HttpError, badRequest } from './errors';
import { wantsJson } from './error-handler';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The console's forms arrive as application/x-www-form-urlencoded (htmx included) or JSON. A body of
 * any other type is not read by the parsers, so without this check it would look like an empty form
 * and an action with only optional fields (Save, a company's scopes) would run on its defaults.
 * A JSON list or scalar is not a form either. The platform API reads its own bodies (RFC 6749 3.2).
 */
export function formBodiesOnly(req: Request, _res: Response, next: NextFunction): void {
  if (SAFE_METHODS.has(req.method) || wantsJson(req)) return next();
  const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (hasBody && !req.is(['application/x-www-form-urlencoded', 'application/json'])) {
    return next(new HttpError(415, 'unsupported_media_type', 'Send the form as application/x-www-form-urlencoded (or as a JSON object).'));
  }
  if (req.is('application/json') && (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body))) {
    return next(badRequest('A form is a set of named fields: send a JSON object, not a list or a single value.', 'malformed_body'));
  }
  next();
}
