import { Router } from 'express';
import type { Request, RequestHandler } from 'express';
import { actorFrom } from '../../http/actor';
import { HttpError } from '../../http/errors';
import type { CredentialIdentity } from '../../features/credentials/verify';
import { endedDescription } from '../../features/credentials/verify';
import type { SigningKeys } from '../signing-keys/service';
import type { AuthFailures } from '../failures';
import { MalformedClientCredentials, presentedClient } from './client-auth';
import type { PresentedClient } from './client-auth';
import { invalidClient, tooManyFailures, unsupportedGrantType } from '../errors';
import { readForm } from './form';
import { sendJson } from '../respond';
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

  /**
   * Client authentication for all three POST endpoints, throttled per source address. Only guesses
   * count (a malformed, bad-checksum or unknown secret); a real secret that stopped working is told
   * why (RFC 6749 5.2 error_description) and never counted, so stale clients block no one.
   */
  const authenticateClient = async (req: Request, form: Record<string, string>): Promise<CredentialIdentity> => {
    const source = req.ip ?? 'unknown';
    const wait = await deps.failures.retryAfter(source);
    if (wait > 0) throw tooManyFailures(wait);
    const presented = await presentedOrCounted(req, form, source);
    const check = await deps.verifier.verifyClientSecret(presented.clientId, presented.clientSecret);
    if (check.ok) return check.identity;
    if (check.reason === 'ended') throw invalidClient(endedDescription('oauth', check.how, check.at));
    if (check.reason !== 'mismatched') await deps.failures.record(source);
    throw invalidClient();
  };

  /** A malformed client credential counts against its source like a bad checksum; none sent at all does not. */
  const presentedOrCounted = async (req: Request, form: Record<string, string>, source: string): Promise<PresentedClient> => {
    try {
      return presentedClient(req.headers.authorization, form);
    } catch (err) {
      if (err instanceof MalformedClientCredentials) await deps.failures.record(source);
      throw err;
    }
  };

  // RFC 6749 5.1: no answer of the OAuth endpoints may be cached, errors included.
  router.use('/oauth', (_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    next();
  });

  router.get('/.well-known/oauth-authorization-server', async (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(await serverMetadata(deps));
  });

  router.get('/.well-known/jwks.json', async (_req, res) => {
    // Short-lived: verifiers also re-fetch when they meet a kid they do not know (after a rotation).
    res
      .set('Cache-Control', 'public, max-age=60')
      .type('application/jwk-set+json')
      .send(JSON.stringify(await deps.signingKeys.jwks()));
  });

  router.post('/oauth/token', async (req, res) => {
    const form = await readForm(req);
    const input = parseOAuthRequest(TokenRequestSchema, form);
    if (input.grant_type !== 'client_credentials') throw unsupportedGrantType(input.grant_type);
    const client = await authenticateClient(req, form);
    sendJson(res, await issueAccessToken(deps, client, input.scope));
  });

  router.post('/oauth/introspect', async (req, res) => {
    const form = await readForm(req);
    const input = parseOAuthRequest(TokenParamSchema, form);
    const client = await authenticateClient(req, form);
    res.json(await introspectToken(deps, client, input.token));
  });

  router.post('/oauth/revoke', async (req, res) => {
    const form = await readForm(req);
    const input = parseOAuthRequest(TokenParamSchema, form);
    const client = await authenticateClient(req, form);
    await revokeToken(deps, client, input.token, actorFrom(req, client.identifier));
    res.status(200).end();
  });

  router.all(['/oauth/token', '/oauth/introspect', '/oauth/revoke'], methodNotAllowed('POST'));
  router.all(['/.well-known/oauth-authorization-server', '/.well-known/jwks.json'], methodNotAllowed('GET, HEAD'));
  return router;
}
