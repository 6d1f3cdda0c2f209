import type { Db } from '../../db/open';

export interface SigningKeyRow {
  kid: string;
  alg: 'ES256';
  publicJwk: string;
  status: 'active' | 'retired';
  tokenTtlMs: number;
  createdAt: number;
  createdBy: string;
  retiredAt: number | null;
  retiredBy: string | null;
  publishedUntil: number | null;
}

const COLUMNS = `kid, alg, public_jwk AS publicJwk, status, token_ttl_ms AS tokenTtlMs, created_at AS createdAt,
  created_by AS createdBy, retired_at AS retiredAt, retired_by AS retiredBy, published_until AS publishedUntil`;

export interface NewSigningKey {
  kid: string;
  publicJwk: string;
  privatePem: string;
  tokenTtlMs: number;
  createdAt: number;
  createdBy: string;
}

export function insertActiveKey(db: Db, key: NewSigningKey): void {
  db.prepare(
    `INSERT INTO signing_keys (kid, alg, public_jwk, private_pem, status, token_ttl_ms, created_at, created_by)
     VALUES (?, 'ES256', ?, ?, 'active', ?, ?, ?)`,
  ).run(key.kid, key.publicJwk, key.privatePem, key.tokenTtlMs, key.createdAt, key.createdBy);
}

export function findActiveKey(db: Db): SigningKeyRow | undefined {
  return db.prepare(`SELECT ${COLUMNS} FROM signing_keys WHERE status = 'active'`).get() as SigningKeyRow | undefined;
}

/**
 * Prepared once and read on every token issuance, so a rotation made by any process on the same
 * database file is used for the very next token.
 */
export function activeKidReader(db: Db): () => string | undefined {
  const statement = db.prepare(`SELECT kid FROM signing_keys WHERE status = 'active'`).pluck();
  return () => statement.get() as string | undefined;
}

export function findPrivatePem(db: Db, kid: string): string | undefined {
  return db.prepare(`SELECT private_pem FROM signing_keys WHERE kid = ? AND status = 'active'`).pluck().get(kid) as string | undefined;
}

/** Whether a key signs now, or until when it stays published once retired. */
export interface KeyWindow {
  status: 'active' | 'retired';
  retiredAt: number | null;
  /** Equal to retiredAt when it was unpublished at once (an emergency rotation). */
  publishedUntil: number | null;
}

/**
 * Prepared once and read on every token check (one primary-key read), so a retirement made by any
 * process on the same database file is honoured on the very next request.
 */
export function keyWindowReader(db: Db): (kid: string) => KeyWindow | undefined {
  const statement = db.prepare('SELECT status, retired_at AS retiredAt, published_until AS publishedUntil FROM signing_keys WHERE kid = ?');
  return (kid) => statement.get(kid) as KeyWindow | undefined;
}

export function findPublicJwk(db: Db, kid: string): string | undefined {
  return db.prepare('SELECT public_jwk FROM signing_keys WHERE kid = ?').pluck().get(kid) as string | undefined;
}

/**
 * The keys a verifier may meet: the active one and retired ones whose tokens may not all have
 * expired. One unpublished at its retirement (published_until = retired_at) is out whatever `now` is.
 */
export function listPublishedKeys(db: Db, now: number): SigningKeyRow[] {
  return db
    .prepare(
      `SELECT ${COLUMNS} FROM signing_keys WHERE status = 'active' OR (published_until > ? AND published_until > retired_at) ORDER BY status, created_at DESC`,
    )
    .all(now) as SigningKeyRow[];
}

export function listKeys(db: Db, limit: number): SigningKeyRow[] {
  return db.prepare(`SELECT ${COLUMNS} FROM signing_keys ORDER BY created_at DESC, rowid DESC LIMIT ?`).all(limit) as SigningKeyRow[];
}

/** A server signing with `ttlMs` makes sure the key's recorded lifetime covers its tokens. */
export function extendTokenTtl(db: Db, kid: string, ttlMs: number): void {
  db.prepare('UPDATE signing_keys SET token_ttl_ms = max(token_ttl_ms, ?) WHERE kid = ?').run(ttlMs, kid);
}

export function retireKey(db: Db, kid: string, retiredAt: number, retiredBy: string, publishedUntil: number): void {
  db.prepare(
    `UPDATE signing_keys SET status = 'retired', private_pem = NULL, retired_at = ?, retired_by = ?, published_until = ?
     WHERE kid = ? AND status = 'active'`,
  ).run(retiredAt, retiredBy, publishedUntil, kid);
}

/** Takes every retired key that is still published out of the JWKS, as of its retirement; returns their kids. */
export function endPublication(db: Db, now: number): string[] {
  return db
    .prepare(
      `UPDATE signing_keys SET published_until = retired_at
       WHERE status = 'retired' AND published_until > ? AND published_until > retired_at RETURNING kid`,
    )
    .pluck()
    .all(now) as string[];
}
