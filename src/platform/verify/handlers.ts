import { HttpError } from '../../http/errors';
import type { Logger } from '../../log';
import type { UsageTracker } from '../../features/usage/tracker';
import { addressRefusedDescription, endedDescription } from '../../features/credentials/verify';
import type { AddressRefused } from '../../features/credentials/verify';
import { parseAuthorization } from '../authorization-header';
import type { ApiAuthenticator, Caller } from '../authenticator';
import { missingScopes } from '../authenticator';
import { tooManyFailures } from '../errors';
import type { FastHandler, FastRequest, HeaderList } from '../fast-path';
import { JSON_TYPE, reply } from '../fast-path';
import { requiredScopes } from './schema';

export interface VerifyHandlerDeps {
  authenticator: ApiAuthenticator;
  /** Counts each successful API key check and accepted access token (in memory; see features/usage). */
  usage: Pick<UsageTracker, 'count'>;
  logger: Logger;
  /** Whether TRUST_PROXY is set (a proxy's X-Forwarded-For is believed). */
  trustsProxy: boolean;
  /** The headers every answer carries (see fast-path.ts). */
  headers: HeaderList;
}

const ME_HEADERS: HeaderList = ['Cache-Control', 'no-store', 'Content-Type', JSON_TYPE];

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
/**
 * Every refused token gets the same answer, on purpose, but one: a genuine token whose client reached
 * the end of its lifetime is told so (only its holder can send it, as with an ended API key). `ended`
 * says, for the metrics, whether it was one of ours that expired or was revoked (src/metrics/outcomes.ts).
 */
export class BadToken extends HttpError {
  constructor(
    readonly ended?: 'expired' | 'revoked',
    /** Only for a genuine token whose client's lifetime ended: its holder is told when (in the challenge too). */
    description?: string,
  ) {
    super(401, 'invalid_token', description ?? 'The access token is invalid, expired or revoked.', {
      'WWW-Authenticate': description ? `Bearer realm="API", error="invalid_token", error_description="${description}"` : INVALID_TOKEN_CHALLENGE,
    });
  }
}

/** A working credential from an address its IP allowlist lacks: 403 (nginx's auth_request passes a 403 on). */
export const addressNotAllowed = (refused: AddressRefused) => new HttpError(403, 'address_not_allowed', addressRefusedDescription(refused));

/**
 * Throttled callers get 429 with Retry-After, except on forward-auth: nginx's auth_request treats
 * anything but 2xx, 401 and 403 as a server error, so there it is 401 with Retry-After.
 */
const throttled = (wait: number, forwardAuth: boolean) =>
  forwardAuth
    ? new HttpError(401, 'too_many_requests', `Too many failed authentication attempts. Try again in ${wait} seconds.`, {
        'Retry-After': String(wait),
        'WWW-Authenticate': API_CHALLENGE,
      })
    : tooManyFailures(wait);

/** The platform API's own answers: who is calling (/api/v1/me) and forward-auth for reverse proxies (/auth/verify). */
export function verifyHandlers(deps: VerifyHandlerDeps): { me: FastHandler; verify: FastHandler } {
  const { authenticator, usage } = deps;
  let warnedUntrustedProxy = false;

  /**
   * Without TRUST_PROXY, every request relayed by a proxy has the proxy's address: all callers share
   * one throttle bucket, so one client's guesses would block everyone. Said once per process (one app).
   */
  const warnIfProxyNotTrusted = ({ req }: FastRequest): void => {
    if (warnedUntrustedProxy || deps.trustsProxy || req.headers['x-forwarded-for'] === undefined) return;
    warnedUntrustedProxy = true;
    deps.logger.warn(
      { proxy: req.socket.remoteAddress },
      '/auth/verify receives X-Forwarded-For but TRUST_PROXY is not set: every caller behind the proxy shares one failed-authentication throttle. Set TRUST_PROXY to the proxy (e.g. TRUST_PROXY=loopback).',
    );
  };

  /** Authenticates a request by its Authorization header, throttled per source address (see ApiAuthenticator). */
  const authenticate = async ({ req, source }: FastRequest, forwardAuth: boolean): Promise<Caller> => {
    const presented = parseAuthorization(req.headers.authorization);
    switch (presented.scheme) {
      case 'none':
      case 'other':
        throw noCredentials();
      case 'basic': {
        const check = await authenticator.checkApiKey(source, presented.userId, presented.password);
        // Only a use once the secret, its lifetime and its IP allowlist all passed (the verifier noted its last use).
        if (check.ok) {
          usage.count(check.caller.identity.credentialId, 'basic', source, req.headers['user-agent']);
          return check.caller;
        }
        if (check.reason === 'throttled') throw throttled(check.retryAfter, forwardAuth);
        if (check.reason === 'ended') throw endedApiKey(endedDescription('basic', check.how, check.at));
        if (check.reason === 'address') throw addressNotAllowed(check);
        throw badApiKey();
      }
      case 'bearer': {
        const check = await authenticator.checkAccessToken(source, presented.token);
        if (check.ok) {
          usage.count(check.caller.identity.credentialId, 'bearer', source, req.headers['user-agent']);
          return check.caller;
        }
        if (check.reason === 'throttled') throw throttled(check.retryAfter, forwardAuth);
        if (check.reason === 'address') throw addressNotAllowed(check);
        throw check.reason === 'ended' ? new BadToken(check.how, check.description) : new BadToken();
      }
      case 'malformed-basic':
      case 'malformed-bearer': {
        const check = await authenticator.malformed(source);
        if (check.reason === 'throttled') throw throttled(check.retryAfter, forwardAuth);
        throw presented.scheme === 'malformed-basic' ? badApiKey() : new BadToken();
      }
    }
  };

  const me: FastHandler = async (request) => {
    const { identity, scopes } = await authenticate(request, false);
    const body = JSON.stringify({
      company: { id: identity.companyId, name: identity.companyName },
      credential: { kind: identity.kind, id: identity.credentialId, identifier: identity.identifier },
      scopes,
    });
    reply(request.res, 200, deps.headers, ME_HEADERS, body);
  };

  // Any method: nginx's auth_request subrequest keeps the method of the request it guards.
  const verify: FastHandler = async (request) => {
    warnIfProxyNotTrusted(request);
    const required = requiredScopes(request.query);
    const caller = await authenticate(request, true);
    const missing = missingScopes(caller, required);
    if (missing.length) {
      throw new HttpError(403, 'insufficient_scope', `This request needs the scope ${missing.join(' ')}.`, {
        'WWW-Authenticate': `Bearer realm="API", error="insufficient_scope", scope="${required.join(' ')}"`,
      });
    }
    const { identity } = caller;
    reply(request.res, 200, deps.headers, [
      'Cache-Control',
      'no-store',
      'X-Auth-Company',
      String(identity.companyId),
      'X-Auth-Credential',
      String(identity.credentialId),
      'X-Auth-Credential-Kind',
      identity.kind,
      'X-Auth-Identifier',
      identity.identifier,
      'X-Auth-Scopes',
      caller.scopes.join(' '),
      'Content-Length',
      '0',
    ]);
  };

  return { me, verify };
}
