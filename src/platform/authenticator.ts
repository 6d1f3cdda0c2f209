import type { Database } from '../db/connect';
import type { CredentialCheck, CredentialIdentity, CredentialVerifier } from '../features/credentials/verify';
import { revokedTokenChecker } from './oauth/repo';
import type { AccessTokenClaims, AccessTokens } from './oauth/tokens';

/** An authenticated caller of the platform API and what it may do now. */
export interface Caller {
  identity: CredentialIdentity;
  /** Effective scopes: a token's scopes that its client still holds, or the API key's scopes. */
  scopes: string[];
  token?: AccessTokenClaims;
}

export type TokenCheck =
  | { ok: true; caller: Caller }
  /** forged: not a token we signed (counts as a failed attempt); ended: ours, but expired, revoked, its key unpublished or its client stopped working. */
  | { ok: false; reason: 'forged' | 'ended' };

/** An API key's verdict: the caller, or why not (see CredentialCheck: only guesses are failures). */
export type ApiKeyCheck = { ok: true; caller: Caller } | Exclude<CredentialCheck, { ok: true }>;

/**
 * The one path every platform-API request is authenticated by: API keys and client secrets through
 * the CredentialVerifier, access tokens by signature, expiry, the state of their signing key, the
 * revocation list and the state of their client, each read fresh on every request (no stale cache
 * across processes; only a checked signature is remembered, until the token's exp).
 */
export class ApiAuthenticator {
  private readonly isRevoked;

  constructor(
    db: Database,
    private verifier: CredentialVerifier,
    readonly tokens: AccessTokens,
  ) {
    this.isRevoked = revokedTokenChecker(db);
  }

  async checkApiKey(username: string, key: string): Promise<ApiKeyCheck> {
    const check = await this.verifier.verifyApiKey(username, key);
    return check.ok ? { ok: true, caller: { identity: check.identity, scopes: check.identity.scopes } } : check;
  }

  async checkAccessToken(token: string): Promise<TokenCheck> {
    const verdict = await this.tokens.verify(token);
    if (!verdict.ok) return verdict;
    const claims = verdict.claims;
    if (await this.isRevoked(claims.jti)) return { ok: false, reason: 'ended' };
    const identity = await this.verifier.findWorkingClient(claims.credential_id);
    if (!identity || identity.identifier !== claims.client_id) return { ok: false, reason: 'ended' };
    const held = new Set(identity.scopes);
    const scopes = claims.scope === '' ? [] : claims.scope.split(' ').filter((s) => held.has(s));
    return { ok: true, caller: { identity, scopes, token: claims } };
  }
}

/** The scopes of `required` the caller lacks. */
export function missingScopes(caller: Caller, required: string[]): string[] {
  return required.filter((scope) => !caller.scopes.includes(scope));
}
