import type { Database } from '../../db/connect';
import type { Clock } from '../../clock';
import type { Actor, AuditLog } from '../../features/audit/service';
import type { CredentialIdentity, CredentialVerifier } from '../../features/credentials/verify';
import type { ApiAuthenticator } from '../authenticator';
import { invalidScope, unauthorizedClient } from '../errors';
import { scopeNames } from '../../features/scopes/service';
import * as repo from './repo';
import type { AccessTokens } from './tokens';

export interface OAuthDeps {
  db: Database;
  clock: Clock;
  audit: AuditLog;
  verifier: CredentialVerifier;
  authenticator: ApiAuthenticator;
  tokens: AccessTokens;
  publicUrl: string;
}

/** The absolute URLs of the authorization server; the API page shows `tokenEndpoint` as the Token URL. */
export function oauthEndpoints(publicUrl: string) {
  return {
    issuer: publicUrl,
    tokenEndpoint: `${publicUrl}/oauth/token`,
    introspectionEndpoint: `${publicUrl}/oauth/introspect`,
    revocationEndpoint: `${publicUrl}/oauth/revoke`,
    jwksUri: `${publicUrl}/.well-known/jwks.json`,
    /** The `aud` of every access token: the operator's APIs behind this console, as one resource. */
    audience: `${publicUrl}/api`,
  };
}

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post'];

/** RFC 8414 authorization server metadata. */
export async function serverMetadata(deps: Pick<OAuthDeps, 'db' | 'publicUrl'>): Promise<Record<string, unknown>> {
  const urls = oauthEndpoints(deps.publicUrl);
  return {
    issuer: urls.issuer,
    token_endpoint: urls.tokenEndpoint,
    jwks_uri: urls.jwksUri,
    introspection_endpoint: urls.introspectionEndpoint,
    revocation_endpoint: urls.revocationEndpoint,
    grant_types_supported: ['client_credentials'],
    response_types_supported: [],
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    introspection_endpoint_auth_methods_supported: AUTH_METHODS,
    revocation_endpoint_auth_methods_supported: AUTH_METHODS,
    scopes_supported: await scopeNames(deps),
  };
}

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

/** RFC 6749 4.4.3: a token for the client's scopes, or for the narrower set it asked for. No refresh token. */
export async function issueAccessToken(deps: Pick<OAuthDeps, 'tokens'>, client: CredentialIdentity, requested: string[] | undefined): Promise<TokenResponse> {
  let scopes = client.scopes;
  if (requested !== undefined) {
    const held = new Set(client.scopes);
    const notHeld = requested.filter((s) => !held.has(s));
    if (notHeld.length) {
      throw invalidScope(`This client may not request: ${notHeld.slice(0, 5).join(', ')}. It holds: ${client.scopes.join(' ') || '(no scopes)'}.`);
    }
    scopes = requested;
  }
  const { token } = await deps.tokens.issue(client, scopes);
  return { access_token: token, token_type: 'Bearer', expires_in: deps.tokens.ttlSeconds, scope: scopes.join(' ') };
}

export type Introspection =
  | { active: false }
  | {
      active: true;
      scope: string;
      client_id: string;
      token_type: 'Bearer';
      exp: number;
      iat: number;
      sub: string;
      aud: string;
      iss: string;
      jti: string;
    };

/**
 * RFC 7662. A client may introspect the tokens of its own company (its own, or those of the
 * company's other working client during a rotation overlap); any other token is {"active": false},
 * exactly like an expired, revoked, foreign or unknown one, so nothing leaks across companies.
 */
export async function introspectToken(deps: Pick<OAuthDeps, 'authenticator'>, caller: CredentialIdentity, token: string): Promise<Introspection> {
  const check = await deps.authenticator.checkAccessToken(undefined, token);
  if (!check.ok || check.caller.identity.companyId !== caller.companyId) return { active: false };
  const claims = check.caller.token!;
  return {
    active: true,
    scope: check.caller.scopes.join(' '),
    client_id: claims.client_id,
    token_type: 'Bearer',
    exp: claims.exp,
    iat: claims.iat,
    sub: claims.sub,
    aud: claims.aud,
    iss: claims.iss,
    jti: claims.jti,
  };
}

/**
 * RFC 7009. A client revokes its own tokens; an unknown, foreign-signed or already expired token
 * needs nothing and is answered 200 all the same. A valid token of another client is refused (2.1).
 */
export async function revokeToken(
  deps: Pick<OAuthDeps, 'db' | 'clock' | 'audit' | 'tokens'>,
  caller: CredentialIdentity,
  token: string,
  actor: Actor,
): Promise<void> {
  const verdict = await deps.tokens.verify(token);
  if (!verdict.ok) return;
  const { claims } = verdict;
  if (claims.client_id !== caller.identifier || claims.credential_id !== caller.credentialId) {
    throw unauthorizedClient('This token was issued to another client; a client may revoke only its own tokens.');
  }
  const now = deps.clock.now();
  await repo.pruneRevokedTokens(deps.db, now);
  await repo.insertRevokedToken(deps.db, claims.jti, claims.credential_id, claims.exp * 1000, now);
  await deps.audit.record(actor, {
    action: 'oauth.token_revoke',
    companyId: caller.companyId,
    target: caller.identifier,
    details: { credentialId: caller.credentialId, jti: claims.jti },
  });
}

/** Housekeeping (`prune`): revoked tokens past their `exp` are refused anyway, so their rows can go. */
export async function pruneExpiredRevocations(db: Database, now: number, dryRun: boolean): Promise<number> {
  return dryRun ? repo.countExpiredRevokedTokens(db, now) : repo.pruneRevokedTokens(db, now);
}
