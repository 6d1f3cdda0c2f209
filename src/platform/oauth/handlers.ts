import type { SigningKeys } from '../signing-keys/service';
import type { UsageTracker } from '../../features/usage/tracker';
import type { ApiAuthenticator } from '../authenticator';
import type { FastHandler, HeaderList } from '../fast-path';
import { JSON_TYPE, headerList, reply } from '../fast-path';
import { unsupportedGrantType } from '../errors';
import { authenticateClient } from './client-auth';
import { readForm } from './form';
import { TokenRequestSchema, parseOAuthRequest } from './schema';
import type { OAuthDeps } from './service';
import { issueAccessToken, serverMetadata } from './service';

export interface OAuthHandlerDeps extends Pick<OAuthDeps, 'db' | 'publicUrl' | 'tokens'> {
  authenticator: ApiAuthenticator;
  signingKeys: SigningKeys;
  /** Counts each access token issued (in memory; see features/usage). */
  usage: Pick<UsageTracker, 'count'>;
  /** The headers every answer carries (see fast-path.ts). */
  headers: HeaderList;
}

/** RFC 6749 5.1: no answer of the OAuth endpoints may be cached, errors included (see also routes.ts). */
export const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
const TOKEN_HEADERS = headerList({ ...NO_STORE, 'Content-Type': JSON_TYPE });
const METADATA_HEADERS = headerList({ 'Cache-Control': 'public, max-age=300', 'Content-Type': JSON_TYPE });
const JWKS_HEADERS = headerList({ 'Cache-Control': 'public, max-age=60', 'Content-Type': 'application/jwk-set+json; charset=utf-8' });

/** The authorization server's hot endpoints, on the fast path: the token endpoint, RFC 8414 metadata and the JWKS. */
export function oauthHandlers(deps: OAuthHandlerDeps): { token: FastHandler; metadata: FastHandler; jwks: FastHandler } {
  const token: FastHandler = async ({ req, res, source }) => {
    try {
      const form = await readForm(req);
      const input = parseOAuthRequest(TokenRequestSchema, form);
      if (input.grant_type !== 'client_credentials') throw unsupportedGrantType(input.grant_type);
      const client = await authenticateClient(deps.authenticator, source, req.headers.authorization, form);
      const issued = await issueAccessToken(deps, client, input.scope);
      // A use: the client passed its secret, lifetime and IP allowlist checks, and got a token.
      deps.usage.count(client.credentialId, 'token', source, req.headers['user-agent']);
      reply(res, 200, deps.headers, TOKEN_HEADERS, JSON.stringify(issued));
    } catch (err) {
      res.setHeader('Pragma', 'no-cache'); // the error answer adds Cache-Control: no-store
      throw err;
    }
  };

  const metadata: FastHandler = async ({ res }) => {
    reply(res, 200, deps.headers, METADATA_HEADERS, JSON.stringify(await serverMetadata(deps)));
  };

  // Short-lived: verifiers also re-fetch when they meet a kid they do not know (after a rotation).
  const jwks: FastHandler = async ({ res }) => {
    const body = JSON.stringify(await deps.signingKeys.jwks());
    reply(res, 200, deps.headers, JWKS_HEADERS, body);
  };

  return { token, metadata, jwks };
}
