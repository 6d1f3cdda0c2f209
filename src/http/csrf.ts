import crypto from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { csrfSync } from 'csrf-sync';
import { randomToken, safeEqual } from '../crypto';
import { forbidden } from './errors';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const TOKEN_MESSAGE = 'Your form expired or was not sent from this page. Reload the page and try again.';

function tokenFromRequest(req: Request): string | undefined {
  const fromBody = (req.body as Record<string, unknown> | undefined)?._csrf;
  if (typeof fromBody === 'string') return fromBody;
  const fromHeader = req.headers['x-csrf-token'];
  return typeof fromHeader === 'string' ? fromHeader : undefined;
}

const sync = csrfSync({ getTokenFromRequest: tokenFromRequest, size: 32 });

/** A new synchronizer token in the session, at sign-in (the session was just regenerated). */
export function newSessionCsrfToken(req: Request): string {
  return sync.generateToken(req, true);
}

export interface CsrfOptions {
  /** SESSION_SECRET: the anonymous-form key is derived from it, so it never leaves the server. */
  secret: string;
  secureCookies: boolean;
}

export interface Csrf {
  /** The token the page's forms carry (`_csrf`) and htmx sends (`X-CSRF-Token`). */
  token: (req: Request, res: Response) => string;
  /** Refuses an unsafe request without the right token. */
  protect: (req: Request, res: Response, next: NextFunction) => void;
}

// The pre-session cookie holds 32 random bytes, base64url: anything else is ignored and replaced.
const NONCE = /^[A-Za-z0-9_-]{43}$/;

/** One cookie's raw value; our own cookie is base64url, so no decoding is involved. */
function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * CSRF tokens for the console (see docs/decisions/0009-anonymous-forms-without-sessions.md).
 *
 * Signed-in requests use csrf-sync's synchronizer token, kept in the session. Anonymous forms
 * (sign-in, setup, invitation) use a signed double-submit token instead, so that showing them
 * writes nothing: a random nonce in an HttpOnly pre-session cookie, and in the form
 * HMAC-SHA256(key, nonce) under a key derived from SESSION_SECRET. Which kind a request needs is
 * decided by the same test when the page is drawn and when the form comes back: is a user signed in.
 */
export function createCsrf(options: CsrfOptions): Csrf {
  const key = Buffer.from(crypto.hkdfSync('sha256', options.secret, '', 'console anonymous form token', 32));
  const cookieName = options.secureCookies ? '__Host-console.csrf' : 'console.csrf';
  const sign = (nonce: string): string => crypto.createHmac('sha256', key).update(nonce).digest('base64url');

  function anonymousToken(req: Request, res: Response): string {
    let nonce = readCookie(req, cookieName);
    if (nonce === undefined || !NONCE.test(nonce)) {
      nonce = randomToken(32);
      // Like the session cookie: a Secure cookie is only offered over a secure connection.
      if (!options.secureCookies || req.secure) {
        res.cookie(cookieName, nonce, { httpOnly: true, sameSite: 'lax', secure: options.secureCookies, path: '/' });
      }
    }
    return sign(nonce);
  }

  function isAnonymousTokenValid(req: Request): boolean {
    const nonce = readCookie(req, cookieName);
    const token = tokenFromRequest(req);
    if (nonce === undefined || !NONCE.test(nonce) || token === undefined) return false;
    return safeEqual(Buffer.from(token), Buffer.from(sign(nonce)));
  }

  return {
    token: (req, res) => (req.user ? sync.generateToken(req) : anonymousToken(req, res)),
    protect(req, _res, next) {
      if (SAFE_METHODS.has(req.method)) return next();
      const valid = req.user ? sync.isRequestValid(req) : isAnonymousTokenValid(req);
      if (!valid) return next(forbidden(TOKEN_MESSAGE, 'invalid_csrf_token'));
      next();
    },
  };
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
