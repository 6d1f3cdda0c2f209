import crypto from 'node:crypto';

/** SHA-256 digest: how every server-generated secret (>= 128 bits of randomness) is stored. */
export function sha256(value: string): Buffer {
  return crypto.createHash('sha256').update(value, 'utf8').digest();
}

/** A URL-safe random token with `bytes` bytes of randomness from the CSPRNG. */
export function randomToken(bytes = 32): string {
  return crypto.randomBytes(bytes).toString('base64url');
}

/** Constant-time equality for digests (equal lengths) and any other byte strings. */
export function safeEqual(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) {
    crypto.timingSafeEqual(a, a); // spend comparable time either way
    return false;
  }
  return crypto.timingSafeEqual(a, b);
}
