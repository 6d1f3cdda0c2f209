import crypto from 'node:crypto';

/**
 * Recognizable secrets (the GitHub token format): a kind prefix, 30 base62 characters from the
 * CSPRNG (~178 bits), and a 6-character base62 CRC32 checksum of everything before it. A scanner,
 * or this server before any database lookup, can tell a mistyped or foreign string from a real one.
 *
 *   cxk_  Basic Auth API key          cxk_<30 random><6 checksum>   (40 characters)
 *   cxs_  OAuth 2.0 client secret     cxs_<30 random><6 checksum>   (40 characters)
 *   cxc_  OAuth 2.0 client ID (public) cxc_<20 random><6 checksum>  (30 characters)
 */
export const API_KEY_PREFIX = 'cxk_';
export const CLIENT_SECRET_PREFIX = 'cxs_';
export const CLIENT_ID_PREFIX = 'cxc_';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SECRET_RANDOM_LENGTH = 30;
const CLIENT_ID_RANDOM_LENGTH = 20;
const CHECKSUM_LENGTH = 6;
/** How much of a secret may be shown after it is saved: the kind prefix and 6 random characters (144 bits stay hidden). */
export const PUBLIC_PREFIX_LENGTH = 10;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(text: string): number {
  let crc = 0xffffffff;
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8); // indexed: a Buffer's iterator cost more than the sum
  return (crc ^ 0xffffffff) >>> 0;
}

function base62(value: number, width: number): string {
  let out = '';
  let v = value;
  for (let i = 0; i < width; i++) {
    out = BASE62[v % 62] + out;
    v = Math.floor(v / 62);
  }
  return out;
}

/** Uniform base62 characters by rejection sampling (no modulo bias). */
function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of crypto.randomBytes(length * 2)) {
      if (byte < 248) out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

function withChecksum(body: string): string {
  return body + base62(crc32(body), CHECKSUM_LENGTH);
}

export const generateApiKey = (): string => withChecksum(API_KEY_PREFIX + randomBase62(SECRET_RANDOM_LENGTH));
export const generateClientSecret = (): string => withChecksum(CLIENT_SECRET_PREFIX + randomBase62(SECRET_RANDOM_LENGTH));
export const generateClientId = (): string => withChecksum(CLIENT_ID_PREFIX + randomBase62(CLIENT_ID_RANDOM_LENGTH));

const SHAPES: Record<string, RegExp> = {
  [API_KEY_PREFIX]: new RegExp(`^${API_KEY_PREFIX}[0-9A-Za-z]{${SECRET_RANDOM_LENGTH + CHECKSUM_LENGTH}}$`),
  [CLIENT_SECRET_PREFIX]: new RegExp(`^${CLIENT_SECRET_PREFIX}[0-9A-Za-z]{${SECRET_RANDOM_LENGTH + CHECKSUM_LENGTH}}$`),
  [CLIENT_ID_PREFIX]: new RegExp(`^${CLIENT_ID_PREFIX}[0-9A-Za-z]{${CLIENT_ID_RANDOM_LENGTH + CHECKSUM_LENGTH}}$`),
};

/** True when the string has the shape and checksum of a token of this prefix. No lookup, no secret compared. */
export function isWellFormed(value: string, prefix: string): boolean {
  const shape = SHAPES[prefix];
  if (!shape || !shape.test(value)) return false;
  const body = value.slice(0, -CHECKSUM_LENGTH);
  return value.slice(-CHECKSUM_LENGTH) === base62(crc32(body), CHECKSUM_LENGTH);
}

export function publicPrefix(secret: string): string {
  return secret.slice(0, PUBLIC_PREFIX_LENGTH);
}
