import type { Database } from '../../db/connect';
import { preparedRead } from '../../db/prepared';

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

const COLUMNS = [
  'kid',
  'alg',
  'public_jwk as publicJwk',
  'status',
  'token_ttl_ms as tokenTtlMs',
  'created_at as createdAt',
  'created_by as createdBy',
  'retired_at as retiredAt',
  'retired_by as retiredBy',
  'published_until as publishedUntil',
] as const;

export interface NewSigningKey {
  kid: string;
  publicJwk: string;
  privatePem: string;
  tokenTtlMs: number;
  createdAt: number;
  createdBy: string;
}

export async function insertActiveKey(db: Database, key: NewSigningKey): Promise<void> {
  await db
    .insertInto('signing_keys')
    .values({
      kid: key.kid,
      alg: 'ES256',
      public_jwk: key.publicJwk,
      private_pem: key.privatePem,
      status: 'active',
      token_ttl_ms: key.tokenTtlMs,
      created_at: key.createdAt,
      created_by: key.createdBy,
    })
    .execute();
}

export async function findActiveKey(db: Database): Promise<SigningKeyRow | undefined> {
  return db.selectFrom('signing_keys').select(COLUMNS).where('status', '=', 'active').executeTakeFirst();
}

/**
 * Compiled once and read on every token issuance, so a rotation made by any process on the same
 * database is used for the very next token.
 */
export function activeKidReader(db: Database): () => Promise<string | undefined> {
  const find = preparedRead(db, db.selectFrom('signing_keys').select('kid').where('status', '=', 'active'), []);
  return async () => (await find())[0]?.kid;
}

export async function findPrivatePem(db: Database, kid: string): Promise<string | undefined> {
  const row = await db.selectFrom('signing_keys').select('private_pem').where('kid', '=', kid).where('status', '=', 'active').executeTakeFirst();
  return row?.private_pem ?? undefined;
}

/** Whether a key signs now, or until when it stays published once retired. */
export interface KeyWindow {
  status: 'active' | 'retired';
  retiredAt: number | null;
  /** Equal to retiredAt when it was unpublished at once (an emergency rotation). */
  publishedUntil: number | null;
}

/** A placeholder for preparedRead: never a kid (kids are base64url). */
const KID = '\u0000kid';

/**
 * Compiled once and read on every token check (one primary-key read), so a retirement made by any
 * process on the same database is honoured on the very next request.
 */
export function keyWindowReader(db: Database): (kid: string) => Promise<KeyWindow | undefined> {
  const find = preparedRead(
    db,
    db.selectFrom('signing_keys').select(['status', 'retired_at as retiredAt', 'published_until as publishedUntil']).where('kid', '=', KID),
    [KID],
  );
  return async (kid) => (await find(kid))[0];
}

export async function findPublicJwk(db: Database, kid: string): Promise<string | undefined> {
  const row = await db.selectFrom('signing_keys').select('public_jwk').where('kid', '=', kid).executeTakeFirst();
  return row?.public_jwk;
}

/**
 * The keys a verifier may meet: the active one and retired ones whose tokens may not all have
 * expired. One unpublished at its retirement (published_until = retired_at) is out whatever `now` is.
 */
export async function listPublishedKeys(db: Database, now: number): Promise<SigningKeyRow[]> {
  return db
    .selectFrom('signing_keys')
    .select(COLUMNS)
    .where((eb) => eb.or([eb('status', '=', 'active'), eb.and([eb('published_until', '>', now), eb('published_until', '>', eb.ref('retired_at'))])]))
    .orderBy('status')
    .orderBy('created_at', 'desc')
    .execute();
}

/**
 * Newest first. Keys made in the same millisecond (a fake clock, or rotations in one instant) are
 * told apart without SQLite's rowid, which PostgreSQL lacks: the active key is the newest, and of two
 * retired ones the newer was retired later (when the next one replaced it).
 */
export async function listKeys(db: Database, limit: number): Promise<SigningKeyRow[]> {
  return db.selectFrom('signing_keys').select(COLUMNS).orderBy('created_at', 'desc').orderBy('status').orderBy('retired_at', 'desc').limit(limit).execute();
}

/**
 * A server signing with `ttlMs` makes sure the key's recorded lifetime covers its tokens. Only ever
 * raised: the condition says what SQLite's max() and PostgreSQL's greatest() would, in words both read.
 */
export async function extendTokenTtl(db: Database, kid: string, ttlMs: number): Promise<void> {
  await db.updateTable('signing_keys').set({ token_ttl_ms: ttlMs }).where('kid', '=', kid).where('token_ttl_ms', '<', ttlMs).execute();
}

export async function retireKey(db: Database, kid: string, retiredAt: number, retiredBy: string, publishedUntil: number): Promise<void> {
  await db
    .updateTable('signing_keys')
    .set({ status: 'retired', private_pem: null, retired_at: retiredAt, retired_by: retiredBy, published_until: publishedUntil })
    .where('kid', '=', kid)
    .where('status', '=', 'active')
    .execute();
}

/** Takes every retired key that is still published out of the JWKS, as of its retirement; returns their kids. */
export async function endPublication(db: Database, now: number): Promise<string[]> {
  const rows = await db
    .updateTable('signing_keys')
    .set((eb) => ({ published_until: eb.ref('retired_at') }))
    .where('status', '=', 'retired')
    .where('published_until', '>', now)
    .where((eb) => eb('published_until', '>', eb.ref('retired_at')))
    .returning('kid')
    .execute();
  return rows.map((row) => row.kid);
}
