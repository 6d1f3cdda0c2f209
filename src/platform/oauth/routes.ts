import { Router } from 'express';
import type { Request, RequestHandler, Response } from 'express';
import type { PlatformObserver } from '../observe';
import { actorFrom } from '../../http/actor';
import { HttpError } from '../../http/errors';
import { authenticateClient } from './client-auth';
import { readForm } from './form';
import { NO_STORE } from './handlers';
import { TokenParamSchema, parseOAuthRequest } from './schema';
import type { OAuthDeps } from './service';
import { introspectToken, revokeToken } from './service';

export interface OAuthRouterDeps extends OAuthDeps {
  /** Told of every answer of introspection and revocation (src/platform/index.ts: the metrics). */
  observe?: PlatformObserver;
}

const methodNotAllowed =
  (allow: string): RequestHandler =>
  (req, _res, next) =>
    next(new HttpError(405, 'invalid_request', `${req.method} is not allowed here; use ${allow.split(',')[0]}.`, { Allow: allow }));

/**
 * The authorization server's other endpoints, in Express: introspection and revocation (RFC 7662,
 * RFC 7009), and 405 for the wrong methods on every OAuth path. The token endpoint, the metadata and
 * the JWKS answer on the fast path (handlers.ts), before Express.
 */
export function oauthRouter(deps: OAuthRouterDeps): Router {
  const router = Router();

  // RFC 6749 5.1: no answer of the OAuth endpoints may be cached, errors included.
  router.use('/oauth', (_req, res, next) => {
    res.set(NO_STORE);
    next();
  });

  /** The handler, with its answer told to `observe` (Express 5 passes a rejection on to the error handler). */
  const observed =
    (endpoint: 'introspect' | 'revoke', handler: (req: Request, res: Response) => Promise<void>): RequestHandler =>
    async (req, res) => {
      const startedAt = performance.now();
      try {
        await handler(req, res);
        deps.observe?.(endpoint, undefined, (performance.now() - startedAt) / 1000);
      } catch (err) {
        deps.observe?.(endpoint, err, (performance.now() - startedAt) / 1000);
        throw err;
      }
    };

  /** Both endpoints take a form with `token`, from an authenticated client (client-auth.ts). */
  const clientAndToken = async (req: Request) => {
    const form = await readForm(req);
    const input = parseOAuthRequest(TokenParamSchema, form);
    const client = await authenticateClient(deps.authenticator, req.ip ?? 'unknown', req.headers.authorization, form);
    return { client, token: input.token };
  };

  router.post(
    '/oauth/introspect',
    observed('introspect', async (req, res) => {
      const { client, token } = await clientAndToken(req);
      res.json(await introspectToken(deps, client, token));
    }),
  );

  router.post(
    '/oauth/revoke',
    observed('revoke', async (req, res) => {
      const { client, token } = await clientAndToken(req);
      await revokeToken(deps, client, token, actorFrom(req, client.identifier));
      res.status(200).end();
    }),
  );

  router.all(['/oauth/token', '/oauth/introspect', '/oauth/revoke'], methodNotAllowed('POST'));
  router.all(['/.well-known/oauth-authorization-server', '/.well-known/jwks.json'], methodNotAllowed('GET, HEAD'));
  return router;
}
