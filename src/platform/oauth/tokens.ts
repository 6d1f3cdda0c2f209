import crypto from 'node:crypto';
import { errors, jwtVerify } from 'jose';
import type { JWTHeaderParameters, JWTVerifyOptions } from 'jose';
import type { Clock } from '../../clock';
import type { KeyWindow } from '../signing-keys/repo';
import type { Signer, SigningKeys } from '../signing-keys/service';
import { PUBLISH_MARGIN_MS, acceptanceEnd } from '../signing-keys/service';

/** RFC 9068 access-token claims, plus the credential id of the client (a private claim). */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  client_id: string;
  scope: string;
  iat: number;
  exp: number;
  jti: string;
  credential_id: number;
}

export interface IssuedToken {
  token: string;
  claims: AccessTokenClaims;
}

/** forged: not a token we could have signed (counts as a failed attempt); ended: ours, but expired or its key was unpublished. */
export type TokenVerdict = { ok: true; claims: AccessTokenClaims } | Unusable;
/** forged: not ours (a failed guess); ended: ours, but expired, or revoked (the token, its key or its client). */
export type Unusable =
  | { ok: false; reason: 'forged' }
  /** `description`: what its holder is told, when the answer says more than "invalid, expired or revoked" (its client's lifetime ended). */
  | { ok: false; reason: 'ended'; how: 'expired' | 'revoked'; description?: string };

/** A token whose signature, header and claims were checked (see AccessTokens.signed). */
export interface SignedToken {
  claims: AccessTokenClaims;
  kid: string;
}

const MAX_TOKEN_LENGTH = 4096;
/** Tokens whose signature was checked, so a busy client's token is verified once, not per request. */
const VERIFIED_CACHE_SIZE = 10_000;
const FORGED: Unusable = { ok: false, reason: 'forged' };
const EXPIRED: Unusable = { ok: false, reason: 'ended', how: 'expired' };
const UNPUBLISHED: Unusable = { ok: false, reason: 'ended', how: 'revoked' };

/** The claims jose does not type for us (it checks iss, aud, exp and iat). */
function isClaims(value: unknown): value is AccessTokenClaims {
  const c = value as Partial<AccessTokenClaims>;
  return (
    typeof c.aud === 'string' &&
    typeof c.client_id === 'string' &&
    c.sub === c.client_id &&
    typeof c.scope === 'string' &&
    Number.isSafeInteger(c.iat) &&
    Number.isSafeInteger(c.exp) &&
    typeof c.jti === 'string' &&
    Number.isSafeInteger(c.credential_id)
  );
}

/**
 * Issues and checks our own RFC 9068 JWT access tokens (ES256, `typ: at+jwt`) with jose, on
 * CryptoKeys built once per key. A token is accepted only while its key signs, or is retired but
 * still published, and only if its lifetime is at most ACCESS_TOKEN_TTL and it expires before its
 * key leaves the JWKS: so a copy of a private key cannot mint long-lived tokens that outlive a
 * rotation. A checked signature is remembered for that exact token string until the token's exp;
 * the key's state is read again on every request. Revocation and the client's state are the
 * caller's to check.
 */
export class AccessTokens {
  private readonly verified = new Map<string, SignedToken>();
  private readonly encodedHeaders = new Map<string, string>();
  private readonly verifyOptions: JWTVerifyOptions;

  constructor(
    private keys: SigningKeys,
    private clock: Clock,
    readonly issuer: string,
    readonly audience: string,
    readonly ttlSeconds: number,
  ) {
    this.verifyOptions = {
      algorithms: ['ES256'],
      typ: 'at+jwt',
      issuer,
      audience,
      requiredClaims: ['exp', 'iat', 'jti', 'sub'],
    };
  }

  async issue(client: { credentialId: number; identifier: string }, scopes: string[]): Promise<IssuedToken> {
    const signer = await this.keys.currentSigner();
    const iat = Math.floor(this.clock.now() / 1000);
    const claims: AccessTokenClaims = {
      iss: this.issuer,
      sub: client.identifier,
      aud: this.audience,
      client_id: client.identifier,
      scope: scopes.join(' '),
      iat,
      exp: iat + this.ttlSeconds,
      jti: crypto.randomUUID(),
      credential_id: client.credentialId,
    };
    return { token: this.sign(signer, claims), claims };
  }

  /**
   * ES256 over our own header and claims with node:crypto (decision 0003). jose signs through
   * WebCrypto's asynchronous job, which cost about 80 µs of CPU per token here (the token endpoint
   * lost a fifth of its throughput); signing parses nothing from outside, so the library's checks
   * matter on the verifying side, which stays jose's. Tests verify issued tokens with jose.
   */
  private sign(signer: Signer, claims: AccessTokenClaims): string {
    let header = this.encodedHeaders.get(signer.kid);
    if (header === undefined) {
      header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'at+jwt', kid: signer.kid })).toString('base64url');
      this.encodedHeaders.set(signer.kid, header);
    }
    const signingInput = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const signature = crypto.sign('sha256', Buffer.from(signingInput), { key: signer.privateKey, dsaEncoding: 'ieee-p1363' });
    return `${signingInput}.${signature.toString('base64url')}`;
  }

  /** The claims of a token we signed that may be used now, or why not (the key's state read now). */
  async verify(token: string): Promise<TokenVerdict> {
    const signed = await this.signed(token);
    if ('ok' in signed) return signed;
    return this.withinBounds(token, signed, await this.keys.keyWindow(signed.kid));
  }

  /**
   * Signature, header and registered claims, by jose, and a lifetime we could have given; remembered
   * for that exact token string until its exp (withinBounds forgets it then), so a busy client's token
   * is checked once, not per request. Whether it may be used now is withinBounds' question.
   */
  async signed(token: string): Promise<SignedToken | Unusable> {
    const cached = this.verified.get(token);
    if (cached) return cached;
    const checked = await this.checkSignature(token);
    if (!('ok' in checked)) this.remember(token, checked);
    return checked;
  }

  private async checkSignature(token: string): Promise<SignedToken | Unusable> {
    if (token.length > MAX_TOKEN_LENGTH) return FORGED;
    try {
      const { payload, protectedHeader } = await jwtVerify(token, this.resolveKey, { ...this.verifyOptions, currentDate: new Date(this.clock.now()) });
      if (!isClaims(payload) || !this.isLifetimeWeGive(payload)) return FORGED;
      return { claims: payload, kid: protectedHeader.kid! };
    } catch (err) {
      // jose checks exp only once the signature held: an expired token is one of ours that ended.
      return err instanceof errors.JWTExpired && err.claim === 'exp' ? EXPIRED : FORGED;
    }
  }

  /**
   * At most ACCESS_TOKEN_TTL from iat to exp, and issued no later than now (give or take the clock
   * skew between servers): no accepted token lives longer than that from now.
   */
  private isLifetimeWeGive(claims: AccessTokenClaims): boolean {
    return claims.exp - claims.iat <= this.ttlSeconds && claims.iat * 1000 <= this.clock.now() + PUBLISH_MARGIN_MS;
  }

  private readonly resolveKey = async (header: JWTHeaderParameters): Promise<CryptoKey> => {
    const key = typeof header.kid === 'string' ? await this.keys.verificationKey(header.kid) : undefined;
    if (key === undefined) throw new errors.JWKSNoMatchingKey();
    return key;
  };

  /**
   * Checked on every request, remembered signature or not: expiry, and the state of its key (`key`,
   * read from the database for this request: active, retired but still published, or gone).
   */
  withinBounds(token: string, { claims }: SignedToken, key: KeyWindow | undefined): TokenVerdict {
    const verdict = this.bounds(claims, key);
    if (!verdict.ok) this.verified.delete(token);
    return verdict;
  }

  private bounds(claims: AccessTokenClaims, key: KeyWindow | undefined): TokenVerdict {
    if (claims.exp * 1000 <= this.clock.now()) return EXPIRED;
    const until = acceptanceEnd(key, this.clock.now());
    if (until === undefined) return UNPUBLISHED; // its key was retired and has left the JWKS
    if (claims.exp * 1000 > until) return FORGED; // outlives its key's publication: we never signed that
    return { ok: true, claims };
  }

  private remember(token: string, verified: SignedToken): void {
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, verified);
  }
}
