import crypto from 'node:crypto';

/** SHA-256 digest: how every server-generated secret (>= 128 bits of randomness) is stored. */
export function sha256(value: string): Buffer {
  return crypto.hash('sha256', value, 'buffer'); // one call: no Hash object per API key checked
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

/**
 * A 256-bit key for sealing data at rest, derived from SESSION_SECRET (which lives outside the database)
 * for one purpose: a copy of the database alone (a leaked backup) cannot open what it seals.
 */
export function deriveSealingKey(sessionSecret: string, purpose: string): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', sessionSecret, 'api-credentials-console', purpose, 32));
}

const SEALED = 'sealed:v1:';

/** Whether a stored value was written by seal(). */
export function isSealed(stored: string): boolean {
  return stored.startsWith(SEALED);
}

/** AES-256-GCM: the stored form carries its IV and authentication tag. */
export function seal(plain: string, key: Buffer): string {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return SEALED + [iv, cipher.getAuthTag(), body].map((b) => b.toString('base64url')).join('.');
}

/** What seal() sealed, or undefined when it was sealed under another key (another SESSION_SECRET) or is not sealed. */
export function unseal(stored: string, key: Buffer): string | undefined {
  if (!isSealed(stored)) return undefined;
  const [iv, tag, body] = stored
    .slice(SEALED.length)
    .split('.')
    .map((part) => Buffer.from(part, 'base64url'));
  try {
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
