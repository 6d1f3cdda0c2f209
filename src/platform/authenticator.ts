import { formatUtcMinute } from '../clock';
import type { Database } from '../db/connect';
import type { AddressRefused, CredentialCheck, CredentialIdentity, CredentialVerifier } from '../features/credentials/verify';
import type { AuthFailures } from './failures';
import type { AddressRefusals } from './refusals';
import { tokenStateReader } from './oauth/repo';
import type { TokenState } from './oauth/repo';
import type { AccessTokenClaims, AccessTokens, Unusable } from './oauth/tokens';

/** An authenticated caller of the platform API and what it may do now. */
export interface Caller {
  identity: CredentialIdentity;
  /** Effective scopes: a token's scopes that its client still holds, or the API key's scopes. */
  scopes: string[];
  token?: AccessTokenClaims;
}

/** The caller's address has failed too often: it waits, and learns nothing about what it sent. */
export interface Throttled {
  ok: false;
  reason: 'throttled';
  retryAfter: number;
}

export type TokenCheck =
  | { ok: true; caller: Caller }
  /** forged: not a token we signed (counts as a failed attempt); ended: ours, but expired, or revoked (the token, its key unpublished, or its client stopped working). */
  | Unusable
  | Throttled
  | AddressRefused;

/** An API key's or client secret's verdict: the caller, or why not (see CredentialCheck: only guesses are failures). */
export type SecretCheck = { ok: true; caller: Caller } | Exclude<CredentialCheck, { ok: true }>;

const REVOKED = { ok: false, reason: 'ended', how: 'revoked' } as const;

/**
 * The one path every platform-API request is authenticated by, with the failed-authentication
 * throttle of its source address (src/platform/failures.ts): API keys and client secrets through the
 * CredentialVerifier, access tokens by signature, expiry, the state of their signing key, the
 * revocation list and the state of their client. Everything a request checks in the database is read
 * fresh, in ONE query with its source's throttle window (no stale cache across processes; only a
 * checked signature is remembered, until the token's exp). A blocked source is told only to wait.
 * Guesses (malformed, unknown or forged) are counted here; `source` undefined means "not throttled":
 * introspection checks a token for a client that has already authenticated.
 */
export class ApiAuthenticator {
  private readonly readTokenState: (windowKey: string, kid: string, jti: string, credentialId: number) => Promise<TokenState>;

  constructor(
    db: Database,
    private verifier: CredentialVerifier,
    readonly tokens: AccessTokens,
    readonly failures: AuthFailures,
    private refusals: AddressRefusals,
  ) {
    this.readTokenState = tokenStateReader(db);
  }

  /** Basic Auth on /api/v1/me and /auth/verify: API username and key. */
  checkApiKey(source: string, username: string, key: string): Promise<SecretCheck> {
    return this.checkSecret(source, this.verifier.verifyApiKey(username, key, this.failures.gate(source), source));
  }

  /** Client authentication at the token, introspection and revocation endpoints: Client ID and client secret. */
  checkClientSecret(source: string, clientId: string, secret: string): Promise<SecretCheck> {
    return this.checkSecret(source, this.verifier.verifyClientSecret(clientId, secret, this.failures.gate(source), source));
  }

  private async checkSecret(source: string, checking: Promise<CredentialCheck>): Promise<SecretCheck> {
    const check = await checking;
    if (check.ok) return { ok: true, caller: { identity: check.identity, scopes: check.identity.scopes } };
    // Only guesses count against the source: never a real secret that was replaced, revoked or expired.
    // A malformed secret was refused before any read; an unknown one came back with the window, not blocking.
    if (check.reason === 'malformed') return this.guessed(source, check);
    if (check.reason === 'unknown') return this.counted(source, check);
    if (check.reason === 'address') await this.refusals.note(check);
    return check;
  }

  /**
   * Credentials that were sent but cannot be ours (a header that is not base64, a token that is not
   * token68, a client secret in a broken encoding): a guess, counted unless the source must wait.
   */
  malformed(source: string): Promise<{ ok: false; reason: 'malformed' } | Throttled> {
    return this.guessed(source, { ok: false, reason: 'malformed' } as const);
  }

  /** A failed guess: told only to wait if the source is blocked already, else counted and refused. */
  private async guessed<T>(source: string | undefined, refusal: T): Promise<T | Throttled> {
    if (source === undefined) return refusal;
    const wait = await this.failures.retryAfter(source);
    if (wait > 0) return { ok: false, reason: 'throttled', retryAfter: wait };
    await this.failures.record(source);
    return refusal;
  }

  /** A real token that ended: not a guess, so not counted, but a blocked source is told only to wait. */
  private async unlessThrottled<T>(source: string | undefined, refusal: T): Promise<T | Throttled> {
    const wait = source === undefined ? 0 : await this.failures.retryAfter(source);
    return wait > 0 ? { ok: false, reason: 'throttled', retryAfter: wait } : refusal;
  }

  async checkAccessToken(source: string | undefined, token: string): Promise<TokenCheck> {
    const signed = await this.tokens.signed(token);
    if ('ok' in signed) return signed.reason === 'forged' ? this.guessed(source, signed) : this.unlessThrottled(source, signed);
    const { claims, kid } = signed;
    const state = await this.readTokenState(source === undefined ? '' : this.failures.windowKey(source), kid, claims.jti, claims.credential_id);
    const wait = source === undefined ? 0 : this.failures.waitFor(state.window);
    if (wait > 0) return { ok: false, reason: 'throttled', retryAfter: wait };
    const verdict = this.tokens.withinBounds(token, signed, state.key);
    if (!verdict.ok) return verdict.reason === 'forged' && source !== undefined ? this.counted(source, verdict) : verdict;
    if (state.revoked) return REVOKED;
    // A token is checked against its client's IP allowlist at each use (not when introspected: source undefined).
    const client = this.verifier.workingClientFrom(state.client, source);
    if (!client) return this.clientEnded(state.client);
    if (client.identity.identifier !== claims.client_id) return REVOKED;
    if (!client.ok) {
      await this.refusals.note(client);
      return client;
    }
    const { identity } = client;
    const held = new Set(identity.scopes);
    const scopes = claims.scope === '' ? [] : claims.scope.split(' ').filter((s) => held.has(s));
    return { ok: true, caller: { identity, scopes, token: claims } };
  }

  /** A genuine token whose client stopped working: the end of the client's lifetime is told, anything else is "revoked". */
  private clientEnded(client: TokenState['client']): Unusable {
    const expiredAt = this.verifier.clientExpiry(client);
    if (expiredAt === undefined) return REVOKED;
    return {
      ok: false,
      reason: 'ended',
      how: 'expired',
      description: `The client credentials this access token was issued to expired on ${formatUtcMinute(expiredAt)}: request a new token with new client credentials.`,
    };
  }

  /** A guess whose source's window was just read and does not block: counted. */
  private async counted<T>(source: string, refusal: T): Promise<T> {
    await this.failures.record(source);
    return refusal;
  }
}

/** The scopes of `required` the caller lacks. */
export function missingScopes(caller: Caller, required: string[]): string[] {
  return required.filter((scope) => !caller.scopes.includes(scope));
}
