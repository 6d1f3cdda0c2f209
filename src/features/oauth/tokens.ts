import crypto from 'node:crypto';
import type { Clock } from '../../clock';
import type { SigningKeys } from '../signing-keys/service';

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

const MAX_TOKEN_LENGTH = 4096;
const TYP = /^(application\/)?at\+jwt$/i;
/** Tokens whose signature was checked, so a busy client's token is verified once, not per request. */
const VERIFIED_CACHE_SIZE = 10_000;

function b64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function parseB64urlJson(part: string): unknown {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

function isClaims(value: unknown): value is AccessTokenClaims {
  const c = value as Partial<AccessTokenClaims> | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c.iss === 'string' &&
    typeof c.sub === 'string' &&
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
 * Issues and checks our own RFC 9068 JWT access tokens (ES256, `typ: at+jwt`), with node:crypto and
 * KeyObjects built once. A signature, once verified, is remembered for that exact token string (a
 * signature never changes its mind); expiry, revocation and the client's state are checked by the
 * caller on every request.
 */
export class AccessTokens {
  private readonly headers = new Map<string, string>();
  private readonly verified = new Map<string, AccessTokenClaims>();

  constructor(
    private keys: SigningKeys,
    private clock: Clock,
    readonly issuer: string,
    readonly audience: string,
    readonly ttlSeconds: number,
  ) {}

  issue(client: { credentialId: number; identifier: string }, scopes: string[]): IssuedToken {
    const signer = this.keys.currentSigner();
    let header = this.headers.get(signer.kid);
    if (header === undefined) {
      header = b64urlJson({ alg: 'ES256', typ: 'at+jwt', kid: signer.kid });
      this.headers.set(signer.kid, header);
    }
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
    const signingInput = `${header}.${b64urlJson(claims)}`;
    const signature = crypto.sign('sha256', Buffer.from(signingInput), { key: signer.privateKey, dsaEncoding: 'ieee-p1363' });
    return { token: `${signingInput}.${signature.toString('base64url')}`, claims };
  }

  /** The claims of a token we signed (any published key), with our issuer and audience; expiry is NOT checked here. */
  verifySignature(token: string): AccessTokenClaims | undefined {
    const cached = this.verified.get(token);
    if (cached) return cached;
    if (token.length > MAX_TOKEN_LENGTH) return undefined;
    const firstDot = token.indexOf('.');
    const lastDot = token.lastIndexOf('.');
    if (firstDot <= 0 || lastDot === firstDot || token.indexOf('.', firstDot + 1) !== lastDot) return undefined;
    const header = parseB64urlJson(token.slice(0, firstDot)) as { alg?: unknown; typ?: unknown; kid?: unknown; crit?: unknown } | undefined;
    if (!header || header.alg !== 'ES256' || typeof header.typ !== 'string' || !TYP.test(header.typ)) return undefined;
    if (typeof header.kid !== 'string' || header.crit !== undefined) return undefined;
    const key = this.keys.publicKey(header.kid);
    if (!key) return undefined;
    const signature = Buffer.from(token.slice(lastDot + 1), 'base64url');
    if (signature.length !== 64) return undefined;
    const signedPart = Buffer.from(token.slice(0, lastDot));
    if (!crypto.verify('sha256', signedPart, { key, dsaEncoding: 'ieee-p1363' }, signature)) return undefined;
    const claims = parseB64urlJson(token.slice(firstDot + 1, lastDot));
    if (!isClaims(claims) || claims.iss !== this.issuer || claims.aud !== this.audience) return undefined;
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, claims);
    return claims;
  }

  isExpired(claims: AccessTokenClaims): boolean {
    return claims.exp * 1000 <= this.clock.now();
  }
}
