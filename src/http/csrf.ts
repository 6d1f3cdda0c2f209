import type { NextFunction, Request, Response } from 'express';
import { csrfSync } from 'csrf-sync';
import { forbidden } from './errors';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const sync = csrfSync({
  getTokenFromRequest: (req: Request) => {
    const fromBody = (req.body as Record<string, unknown> | undefined)?._csrf;
    if (typeof fromBody === 'string') return fromBody;
    const fromHeader = req.headers['x-csrf-token'];
    return typeof fromHeader === 'string' ? fromHeader : undefined;
  },
  size: 32,
});

/** The token for the current session, created when missing. Forms carry it in `_csrf`, htmx in `X-CSRF-Token`. */
export function csrfToken(req: Request, overwrite = false): string {
  return sync.generateToken(req, overwrite);
}

/**
 * Rejects cross-site unsafe requests before the token check: browsers send Sec-Fetch-Site and
 * Origin, which a forging page cannot choose. Requests without them (curl, tests) still need the token.
 */
export function sameOriginOnly(publicUrl: string) {
  const publicOrigin = new URL(publicUrl).origin;
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (SAFE_METHODS.has(req.method)) return next();
    const site = req.get('Sec-Fetch-Site');
    if (site !== undefined && site !== 'same-origin') {
      return next(forbidden('This form was sent from another site, so we did not act on it.', 'cross_site_request'));
    }
    const origin = req.get('Origin');
    // Our Referrer-Policy (no-referrer) makes browsers send `Origin: null` on our own forms; Sec-Fetch-Site vouches then.
    if (origin !== undefined && !(origin === 'null' && site === 'same-origin')) {
      const ownOrigin = `${req.protocol}://${req.get('host') ?? ''}`;
      if (origin !== publicOrigin && origin !== ownOrigin) {
        return next(forbidden('This form was sent from another site, so we did not act on it.', 'cross_site_request'));
      }
    }
    next();
  };
}

/** Synchronizer-token check on every unsafe method. */
export function csrfProtection(req: Request, _res: Response, next: NextFunction): void {
  if (SAFE_METHODS.has(req.method)) return next();
  if (!sync.isRequestValid(req)) {
    return next(forbidden('Your form expired or was not sent from this page. Reload the page and try again.', 'invalid_csrf_token'));
  }
  next();
}
