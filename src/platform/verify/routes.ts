import { Router } from 'express';
import type { Request } from 'express';
import { HttpError } from '../../http/errors';
import type { Logger } from '../../log';
import { endedDescription } from '../../features/credentials/verify';
import { tooManyFailures } from '../errors';
import { sendJson } from '../respond';
import { parseOrThrow } from '../../http/validate';
import { parseAuthorization } from '../authorization-header';
import type { AuthFailures } from '../failures';
import { VerifyQuerySchema } from './schema';
import type { ApiAuthenticator, Caller } from '../authenticator';
import { missingScopes } from '../authenticator';

export interface VerifyRouterDeps {
  authenticator: ApiAuthenticator;
  failures: AuthFailures;
  logger: Logger;
  /** Whether Express trusts a proxy's X-Forwarded-For (TRUST_PROXY set). */
  trustsProxy: boolean;
}

/** Both schemes we accept (RFC 7235: one challenge per scheme). */
export const API_CHALLENGE = 'Basic realm="API", Bearer realm="API"';
const INVALID_TOKEN_CHALLENGE = 'Bearer realm="API", error="invalid_token", error_description="The access token is invalid, expired or revoked"';

const noCredentials = () =>
  new HttpError(401, 'unauthorized', 'Authentication is required: send Authorization: Basic (API username and key) or Bearer (an access token).', {
    'WWW-Authenticate': API_CHALLENGE,
  });
const badApiKey = () => new HttpError(401, 'unauthorized', 'The API username or key is not valid.', { 'WWW-Authenticate': API_CHALLENGE });
/** An API key that matched a credential that stopped working: its holder is told why, in the challenge too (nginx passes it on). */
const endedApiKey = (description: string) =>
  new HttpError(401, 'unauthorized', description, { 'WWW-Authenticate': `Basic realm="API", error_description="${description}", Bearer realm="API"` });
const badToken = () => new HttpError(401, 'invalid_token', 'The access token is invalid, expired or revoked.', { 'WWW-Authenticate': INVALID_TOKEN_CHALLENGE });

/** The platform API's own answers: who is calling (/api/v1/me) and forward-auth for reverse proxies (/auth/verify). */
export function verifyRouter(deps: VerifyRouterDeps): Router {
  const router = Router();
  let warnedUntrustedProxy = false;

  /**
   * Without TRUST_PROXY, every request relayed by a proxy has the proxy's address: all callers share
   * one throttle bucket, so one client's guesses would block everyone. Said once per process (one app).
   */
  const warnIfProxyNotTrusted = (req: Request): void => {
    if (warnedUntrustedProxy || deps.trustsProxy || req.headers['x-forwarded-for'] === undefined) return;
    warnedUntrustedProxy = true;
    deps.logger.warn(
      { proxy: req.socket.remoteAddress },
      '/auth/verify receives X-Forwarded-For but TRUST_PROXY is not set: every caller behind the proxy shares one failed-authentication throttle. Set TRUST_PROXY to the proxy (e.g. TRUST_PROXY=loopback).',
    );
  };

  /**
   * Authenticates a request by its Authorization header. Throttled callers get 429 with Retry-After,
   * except on forward-auth: nginx's auth_request treats anything but 2xx, 401 and 403 as a server
   * error, so there it is 401 with Retry-After.
   */
  const authenticate = async (req: Request, forwardAuth: boolean): Promise<Caller> => {
    const presented = parseAuthorization(req.headers.authorization);
    if (presented.scheme === 'none' || presented.scheme === 'other') throw noCredentials();
    const source = req.ip ?? 'unknown';
    const wait = await deps.failures.retryAfter(source);
    if (wait > 0) {
      if (!forwardAuth) throw tooManyFailures(wait);
      throw new HttpError(401, 'too_many_requests', `Too many failed authentication attempts. Try again in ${wait} seconds.`, {
        'Retry-After': String(wait),
        'WWW-Authenticate': API_CHALLENGE,
      });
    }
    switch (presented.scheme) {
      case 'basic': {
        const check = await deps.authenticator.checkApiKey(presented.userId, presented.password);
        if (check.ok) return check.caller;
        // Only guesses count against the source: never a real key that was replaced, revoked or expired.
        if (check.reason === 'ended') throw endedApiKey(endedDescription('basic', check.how, check.at));
        if (check.reason !== 'mismatched') await deps.failures.record(source);
        throw badApiKey();
      }
      case 'bearer': {
        const check = await deps.authenticator.checkAccessToken(presented.token);
        if (check.ok) return check.caller;
        if (check.reason === 'forged') await deps.failures.record(source);
        throw badToken();
      }
      case 'malformed-basic':
        await deps.failures.record(source);
        throw badApiKey();
      case 'malformed-bearer':
        await deps.failures.record(source);
        throw badToken();
    }
  };

  router.get('/api/v1/me', async (req, res) => {
    const caller = await authenticate(req, false);
    const { identity } = caller;
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, {
      company: { id: identity.companyId, name: identity.companyName },
      credential: { kind: identity.kind, id: identity.credentialId, identifier: identity.identifier },
      scopes: caller.scopes,
    });
  });

  // Any method: nginx's auth_request subrequest keeps the method of the request it guards.
  router.all('/auth/verify', async (req, res) => {
    warnIfProxyNotTrusted(req);
    const { scope: required } = parseOrThrow(VerifyQuerySchema, req.query);
    res.set('Cache-Control', 'no-store');
    const caller = await authenticate(req, true);
    const missing = missingScopes(caller, required);
    if (missing.length) {
      throw new HttpError(403, 'insufficient_scope', `This request needs the scope ${missing.join(' ')}.`, {
        'WWW-Authenticate': `Bearer realm="API", error="insufficient_scope", scope="${required.join(' ')}"`,
      });
    }
    const { identity } = caller;
    res
      .set({
        'X-Auth-Company': String(identity.companyId),
        'X-Auth-Credential': String(identity.credentialId),
        'X-Auth-Credential-Kind': identity.kind,
        'X-Auth-Identifier': identity.identifier,
        'X-Auth-Scopes': caller.scopes.join(' '),
      })
      .status(200)
      .end();
  });

  return router;
}
