import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Express } from 'express';
import helmet from 'helmet';

type HeaderMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * The headers every answer carries, pages and platform API alike: helmet's, with a strict CSP (no
 * inline script or style, no third party), and a Permissions-Policy. One middleware, so the platform's
 * fast path can send exactly the same set (src/platform/fast-path.ts captures it once).
 */
export function createSecurityHeaders(secureCookies: boolean): HeaderMiddleware {
  const hardened = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        ...(secureCookies ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    strictTransportSecurity: secureCookies ? { maxAge: 31536000, includeSubDomains: true } : false,
    crossOriginEmbedderPolicy: false,
    referrerPolicy: { policy: 'no-referrer' },
  });
  return (req, res, next) => {
    hardened(req, res, (err?: unknown) => {
      if (err !== undefined) return next(err); // helmet fails only on a bad configuration
      res.setHeader('Permissions-Policy', 'camera=(), microphone=(), geolocation=(), clipboard-write=(self)');
      next();
    });
  };
}

/**
 * The headers a middleware sets on every answer (helmet and ours), captured once by running it on a
 * recording response: the fast path sends exactly what Express's answers carry.
 */
export function headersSetBy(middleware: HeaderMiddleware): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string | number | string[]) {
      headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
      return recorder;
    },
    removeHeader(name: string) {
      delete headers[name];
    },
    getHeader: (name: string) => headers[name],
  };
  let called = false;
  middleware({ headers: {}, method: 'GET', url: '/' } as IncomingMessage, recorder as unknown as ServerResponse, () => (called = true));
  if (!called) throw new Error('a header middleware must call next() at once to be captured');
  return headers;
}

type Handle = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;

/**
 * Puts `first` in front of the whole Express app: an Express app is `(req, res) => app.handle(req,
 * res)`, so every request (node:http's, supertest's) meets `first` before any Express work. Requests
 * it does not take (it returns false) go on to Express unchanged. Decision 0013.
 */
export function serveFirst(app: Express, first: (req: IncomingMessage, res: ServerResponse) => boolean): void {
  const express = app as unknown as { handle: Handle };
  const handle = express.handle.bind(app);
  express.handle = (req, res, next) => {
    if (!first(req, res)) handle(req, res, next);
  };
}
