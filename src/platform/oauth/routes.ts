import { Router } from 'express';
import type { RequestHandler } from 'express';
import { actorFrom } from '../../http/actor';
import { HttpError } from '../../http/errors';
import { authenticateClient } from './client-auth';
import { readForm } from './form';
import { NO_STORE } from './handlers';
import { TokenParamSchema, parseOAuthRequest } from './schema';
import type { OAuthDeps } from './service';
import { introspectToken, revokeToken } from './service';

export type OAuthRouterDeps = OAuthDeps;

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

  router.post('/oauth/introspect', async (req, res) => {
    const form = await readForm(req);
    const input = parseOAuthRequest(TokenParamSchema, form);
    const client = await authenticateClient(deps.authenticator, req.ip ?? 'unknown', req.headers.authorization, form);
    res.json(await introspectToken(deps, client, input.token));
  });

  router.post('/oauth/revoke', async (req, res) => {
    const form = await readForm(req);
    const input = parseOAuthRequest(TokenParamSchema, form);
    const client = await authenticateClient(deps.authenticator, req.ip ?? 'unknown', req.headers.authorization, form);
    await revokeToken(deps, client, input.token, actorFrom(req, client.identifier));
    res.status(200).end();
  });

  router.all(['/oauth/token', '/oauth/introspect', '/oauth/revoke'], methodNotAllowed('POST'));
  router.all(['/.well-known/oauth-authorization-server', '/.well-known/jwks.json'], methodNotAllowed('GET, HEAD'));
  return router;
}
