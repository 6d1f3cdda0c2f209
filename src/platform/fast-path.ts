import type { IncomingMessage, ServerResponse } from 'node:http';
import proxyaddr from 'proxy-addr';
import { HttpError } from '../http/errors';
import type { Logger } from '../log';

/**
 * The platform API's hot endpoints on `node:http` itself, in front of Express (decision 0013).
 *
 * /auth/verify and /api/v1/me sit in front of every call to a company's API and /oauth/token is what
 * every client calls first; Express's per-request work (its router, the prototype swap of req and res,
 * res.json's ETag) cost more than everything these endpoints do. So the dispatcher answers them
 * directly and hands every other request, unchanged, to the Express app. The handlers call the same
 * services (ApiAuthenticator, the OAuth service) as before; what Express did for them is done here:
 * - the same security headers as every other answer (captured once from the app's own middleware);
 * - the client address as Express computes req.ip (TRUST_PROXY, through proxy-addr);
 * - the same path matching: without case, with or without one trailing slash;
 * - errors rendered as the error handler renders the platform's: {"error", "error_description"} with
 *   the HttpError's status and headers, Cache-Control: no-store; anything else is logged and is a 500
 *   that says nothing of its cause.
 */

/** What a handler gets besides req and res. */
export interface FastRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** The raw query string, without '?' ('' when none). */
  query: string;
  /** The client's address, as Express's req.ip would give it. */
  source: string;
}

export type FastHandler = (request: FastRequest) => Promise<void>;

export interface FastRoute<Name extends string = string> {
  /** Upper-case methods; HEAD is implied by GET, as in Express. 'ALL' takes every method. */
  methods: string[];
  handler: FastHandler;
  /** The route's name for `observe` (the metrics' endpoint label); unnamed routes are not observed. */
  name?: Name;
}

export interface FastPathOptions<Name extends string = string> {
  /** By lower-case path without trailing slash. */
  routes: Record<string, FastRoute<Name>>;
  /** Headers every answer carries (the app's security headers). */
  headers: HeaderList;
  /** Express's compiled 'trust proxy fn'; undefined when no proxy is trusted (the socket's address, at no cost). */
  trustProxy?: (address: string, hop: number) => boolean;
  /** Settles when the platform's start-up work is done; requests wait for it. */
  ready: Promise<void>;
  logger: Logger;
  /** Told of every answer of a named route: its name, the error it ended with (undefined: it succeeded) and its duration in seconds. */
  observe?: (name: Name, error: unknown, seconds: number) => void;
}

/** Returns true when it took the request; false hands it to Express. */
export type FastPath = ((req: IncomingMessage, res: ServerResponse) => boolean) & {
  /** `METHOD /path` of every route it serves ('ALL' for any method): the app's route list includes them. */
  routes: string[];
};

export function createFastPath<Name extends string>(options: FastPathOptions<Name>): FastPath {
  const routes = new Map(Object.entries(options.routes));
  const { trustProxy } = options;
  const sourceOf = (req: IncomingMessage): string => (trustProxy ? proxyaddr(req, trustProxy) : req.socket.remoteAddress!);
  let started = false;
  void options.ready.then(
    () => (started = true),
    () => undefined, // reported by the platform; each request then gets the error as a 500
  );
  const fast = (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = normalizePath(q < 0 ? url : url.slice(0, q));
    const route = path === undefined ? undefined : routes.get(path);
    if (route === undefined || !accepts(route.methods, req.method ?? 'GET')) return false;
    const startedAt = performance.now();
    /** Once per request: tells `observe`, and answers a failure (nothing thrown here may reach node:http's request event). */
    const done = (failed: boolean, err?: unknown) => {
      if (options.observe && route.name !== undefined) {
        try {
          options.observe(route.name, failed ? err : undefined, (performance.now() - startedAt) / 1000);
        } catch (observeErr) {
          options.logger.error({ err: observeErr }, 'observing a platform answer failed');
        }
      }
      if (failed) sendError(res, err, options.headers, options.logger, path!, req.method);
    };
    try {
      const request: FastRequest = { req, res, query: q < 0 ? '' : url.slice(q + 1), source: sourceOf(req) };
      const handled = started ? route.handler(request) : options.ready.then(() => route.handler(request));
      handled.then(
        () => done(false),
        (err: unknown) => done(true, err),
      );
    } catch (err) {
      done(true, err); // proxy-addr on a socket already gone, say
    }
    return true;
  };
  const listed = Object.entries(options.routes).flatMap(([path, route]) => route.methods.map((method) => `${method} ${path}`));
  return Object.assign(fast, { routes: listed });
}

/** Express matches routes without case and with an optional trailing slash; an absolute-form URL has its path after the host. */
function normalizePath(raw: string): string | undefined {
  let path = raw;
  if (!path.startsWith('/')) {
    const host = path.indexOf('//');
    if (host < 0) return undefined;
    const slash = path.indexOf('/', host + 2);
    path = slash < 0 ? '/' : path.slice(slash);
  }
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return path.toLowerCase();
}

function accepts(methods: string[], method: string): boolean {
  return methods.includes('ALL') || methods.includes(method) || (method === 'HEAD' && methods.includes('GET'));
}

/**
 * Header names and values in one flat list, `[name, value, name, value, ...]`, as node:http's
 * writeHead takes them. Not an object: merging the ~15 common headers into an object per answer
 * (`{ ...common, ...headers }`) cost more than the rest of writing the headers (docs/benchmarks.md).
 * The lists a reply joins must not name the same header twice (headerList merges where they might).
 */
export type HeaderList = readonly string[];

/** An object of headers as a HeaderList (once, at start-up, or on an error's rare path). */
export const headerList = (headers: Record<string, string>): HeaderList => Object.entries(headers).flat();

/**
 * Writes an answer with the common headers, `headers` and the body (not on HEAD, which gets the same
 * headers and Content-Length as GET, as Express answers it).
 */
export function reply(res: ServerResponse, status: number, common: HeaderList, headers: HeaderList, body?: string): void {
  const all = common.concat(headers);
  if (body === undefined) {
    res.writeHead(status, all);
    res.end();
    return;
  }
  all.push('Content-Length', String(Buffer.byteLength(body)));
  res.writeHead(status, all);
  res.end(body);
}

export const JSON_TYPE = 'application/json; charset=utf-8';

function sendError(res: ServerResponse, err: unknown, headers: HeaderList, logger: Logger, path: string, method: string | undefined): void {
  if (res.headersSent) {
    logger.error({ err, method, path }, 'error after the answer started');
    res.destroy();
    return;
  }
  const known = err instanceof HttpError ? err : undefined;
  if (!known) logger.error({ err, method, path }, 'unhandled error');
  const error = known ?? new HttpError(500, 'internal_error', 'Something went wrong on our side. It has been logged; please try again.');
  const body = JSON.stringify({ error: error.id, error_description: error.message });
  reply(res, error.status, headers, headerList({ ...error.headers, 'Cache-Control': 'no-store', 'Content-Type': JSON_TYPE }), body);
}
