import { Router } from 'express';
import type { Request, RequestHandler } from 'express';
import { actorFrom } from '../../http/actor';
import { HttpError } from '../../http/errors';
import type { CredentialIdentity } from '../credentials/verify';
import type { SigningKeys } from '../signing-keys/service';
import type { AuthFailures } from '../verify/failures';
import { presentedClient } from './client-auth';
import { invalidClient, tooManyFailures, unsupportedGrantType } from './errors';
import { readForm } from './form';
import { sendJson } from './respond';
import { TokenParamSchema, TokenRequestSchema, parseOAuthRequest } from './schema';
import type { OAuthDeps } from './service';
import { introspectToken, issueAccessToken, revokeToken, serverMetadata } from './service';

export interface OAuthRouterDeps extends OAuthDeps {
  signingKeys: SigningKeys;
  failures: AuthFailures;
}

const methodNotAllowed =
  (allow: string): RequestHandler =>
  (req, _res, next) =>
    next(new HttpError(405, 'invalid_request', `${req.method} is not allowed here; use ${allow.split(',')[0]}.`, { Allow: allow }));

/** The authorization server: RFC 8414 metadata, the JWKS, and the token, introspection and revocation endpoints. */
export function oauthRouter(deps: OAuthRouterDeps): Router {
  const router = Router();

  /** Client authentication for all three POST endpoints, throttled per source and per Client ID. */
  const authenticateClient = (req: Request, form: Record<string, string>): CredentialIdentity => {
    const presented = presentedClient(req.headers.authorization, form);
    const source = req.ip ?? 'unknown';
    const wait = deps.failures.retryAfter(source, presented.clientId);
    if (wait > 0) throw tooManyFailures(wait);
    const client = deps.verifier.verifyClientSecret(presented.clientId, presented.clientSecret);
    if (!client) {
      deps.failures.record(source, presented.clientId);
      throw invalidClient();
    }
    return client;
  };

  // RFC 6749 5.1: no answer of the OAuth endpoints may be cached, errors included.
  router.use('/oauth', (_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    next();
  });

  router.get('/.well-known/oauth-authorization-server', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(serverMetadata(deps));
  });

  router.get('/.well-known/jwks.json', (_req, res) => {
    // Short-lived: verifiers also re-fetch when they meet a kid they do not know (after a rotation).
    res.set('Cache-Control', 'public, max-age=60').type('application/jwk-set+json').send(JSON.stringify(deps.signingKeys.jwks()));
  });

  router.post('/oauth/token', async (req, res) => {
    const form = await readForm(req);
    const input = parseOAuthRequest(TokenRequestSchema, form);
    if (input.grant_type !== 'client_credentials') throw unsupportedGrantType(input.grant_type);
    const client = authenticateClient(req, form);
    sendJson(res, await issueAccessToken(deps, client, input.scope));
  });

  router.post('/oauth/introspect', async (req, res) => {
    const form = await readForm(req);
    const input = parseOAuthRequest(TokenParamSchema, form);
    const client = authenticateClient(req, form);
    res.json(await introspectToken(deps, client, input.token));
  });

  router.post('/oauth/revoke', async (req, res) => {
    const form = await readForm(req);
    const input = parseOAuthRequest(TokenParamSchema, form);
    const client = authenticateClient(req, form);
    await revokeToken(deps, client, input.token, actorFrom(req, client.identifier));
    res.status(200).end();
  });

  router.all(['/oauth/token', '/oauth/introspect', '/oauth/revoke'], methodNotAllowed('POST'));
  router.all(['/.well-known/oauth-authorization-server', '/.well-known/jwks.json'], methodNotAllowed('GET, HEAD'));
  return router;
}
