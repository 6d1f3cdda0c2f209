import { sql } from 'kysely';
import type { Compilable, Expression, ExpressionBuilder, SqlBool } from 'kysely';
import type { Database } from '../../db/connect';
import { isPostgres } from '../../db/connect';
import { preparedRead } from '../../db/prepared';
import type { Tables } from '../../db/schema';

export type CredentialKind = 'basic' | 'oauth';
export type CredentialStatus = 'pending' | 'active' | 'retiring' | 'retired' | 'revoked' | 'expired';

export interface CredentialRow {
  id: number;
  companyId: number;
  kind: CredentialKind;
  identifier: string;
  secretPrefix: string;
  scopes: string;
  status: CredentialStatus;
  replacesId: number | null;
  createdBy: number | null;
  createdByEmail: string | null;
  createdAt: number;
  expiresAt: number | null;
  savedBy: number | null;
  savedByEmail: string | null;
  savedAt: number | null;
  retiresAt: number | null;
  endedAt: number | null;
  revokedByEmail: string | null;
  revokeReason: string | null;
  lastUsedAt: number | null;
  /** Canonical CIDR ranges, space-separated; '' allows every address (ranges.ts). */
  allowedRanges: string;
}

/** Every column of a credential as the pages show it, with the emails of the people who made, saved and revoked it. */
function selectRows(db: Database) {
  return db
    .selectFrom('credentials as c')
    .leftJoin('users as cu', 'cu.id', 'c.created_by')
    .leftJoin('users as su', 'su.id', 'c.saved_by')
    .leftJoin('users as ru', 'ru.id', 'c.revoked_by')
    .select([
      'c.id',
      'c.company_id as companyId',
      'c.kind',
      'c.identifier',
      'c.secret_prefix as secretPrefix',
      'c.scopes',
      'c.status',
      'c.replaces_id as replacesId',
      'c.created_by as createdBy',
      'cu.email as createdByEmail',
      'c.created_at as createdAt',
      'c.expires_at as expiresAt',
      'c.saved_by as savedBy',
      'su.email as savedByEmail',
      'c.saved_at as savedAt',
      'c.retires_at as retiresAt',
      'c.ended_at as endedAt',
      'ru.email as revokedByEmail',
      'c.revoke_reason as revokeReason',
      'c.last_used_at as lastUsedAt',
      'c.allowed_ranges as allowedRanges',
    ]);
}

export interface NewCredential {
  companyId: number;
  kind: CredentialKind;
  identifier: string;
  secretPrefix: string;
  secretHash: Buffer;
  scopes: string;
  replacesId: number | null;
  createdBy: number | null;
  createdAt: number;
  expiresAt: number;
  /** Canonical ranges (ranges.ts); none: every address. */
  allowedRanges?: string;
}

export async function insertPendingCredential(db: Database, c: NewCredential): Promise<number> {
  const row = await db
    .insertInto('credentials')
    .values({
      company_id: c.companyId,
      kind: c.kind,
      identifier: c.identifier,
      secret_prefix: c.secretPrefix,
      secret_hash: c.secretHash,
      scopes: c.scopes,
      status: 'pending',
      replaces_id: c.replacesId,
      created_by: c.createdBy,
      created_at: c.createdAt,
      expires_at: c.expiresAt,
      allowed_ranges: c.allowedRanges ?? '',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** One company's credential by id: another company's id is simply not found. */
export async function findCompanyCredential(db: Database, companyId: number, id: number): Promise<CredentialRow | undefined> {
  return selectRows(db).where('c.id', '=', id).where('c.company_id', '=', companyId).executeTakeFirst();
}

/** Any company's credential by id: for operators only (routes for administrators use findCompanyCredential). */
export async function findCredentialById(db: Database, id: number): Promise<CredentialRow | undefined> {
  return selectRows(db).where('c.id', '=', id).executeTakeFirst();
}

export async function findActiveCredential(db: Database, companyId: number, kind: CredentialKind): Promise<CredentialRow | undefined> {
  return selectRows(db).where('c.company_id', '=', companyId).where('c.kind', '=', kind).where('c.status', '=', 'active').executeTakeFirst();
}

export async function listRetiringCredentials(db: Database, companyId: number, kind: CredentialKind): Promise<CredentialRow[]> {
  return selectRows(db)
    .where('c.company_id', '=', companyId)
    .where('c.kind', '=', kind)
    .where('c.status', '=', 'retiring')
    .orderBy('c.saved_at', 'desc')
    .execute();
}

/** Recent history (ended credentials that were saved: replaced, revoked, expired) for the API page, newest first. */
export async function listEndedCredentials(db: Database, companyId: number, kind: CredentialKind, limit: number): Promise<CredentialRow[]> {
  return selectRows(db)
    .where('c.company_id', '=', companyId)
    .where('c.kind', '=', kind)
    .where((eb) => eb.or([eb('c.status', 'in', ['retired', 'revoked']), eb.and([eb('c.status', '=', 'expired'), eb('c.saved_at', 'is not', null)])]))
    .orderBy('c.ended_at', 'desc')
    .limit(limit)
    .execute();
}

/** Every company's working credentials, for operators (never a secret, only prefixes). */
export async function listAllWorkingCredentials(db: Database): Promise<(CredentialRow & { companyName: string })[]> {
  // companies.name compares without case on both engines (NOCASE, citext), so it also sorts without case.
  return selectRows(db)
    .innerJoin('companies as co', 'co.id', 'c.company_id')
    .select('co.name as companyName')
    .where('c.status', 'in', ['active', 'retiring'])
    .orderBy('co.name')
    .orderBy('c.kind')
    .orderBy('c.status')
    .execute();
}

/** Save: the credential works from now until `expiresAt`, the end of the lifetime chosen (null: it never expires). */
export async function activateCredential(db: Database, id: number, savedBy: number | null, now: number, expiresAt: number | null = null): Promise<void> {
  await db
    .updateTable('credentials')
    .set({ status: 'active', saved_by: savedBy, saved_at: now, expires_at: expiresAt })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .execute();
}

export async function startRetiring(db: Database, id: number, retiresAt: number): Promise<void> {
  await db.updateTable('credentials').set({ status: 'retiring', retires_at: retiresAt }).where('id', '=', id).execute();
}

/** Ends a credential; an expired one keeps the time it lapsed at (expires_at), a retired one has none. */
export async function endCredential(db: Database, id: number, status: 'retired' | 'expired', now: number): Promise<void> {
  await db
    .updateTable('credentials')
    .set(status === 'expired' ? { status, ended_at: now } : { status, ended_at: now, expires_at: null })
    .where('id', '=', id)
    .execute();
}

export async function revokeCredential(db: Database, id: number, revokedBy: number | null, reason: string, now: number): Promise<void> {
  await db.updateTable('credentials').set({ status: 'revoked', ended_at: now, revoked_by: revokedBy, revoke_reason: reason }).where('id', '=', id).execute();
}

export async function setAllowedRanges(db: Database, id: number, allowedRanges: string): Promise<void> {
  await db.updateTable('credentials').set({ allowed_ranges: allowedRanges }).where('id', '=', id).execute();
}

/** A credential a leak report found by its secret's digest, with what its company's policy says to do. */
export interface LeakedCredential {
  id: number;
  companyId: number;
  kind: CredentialKind;
  identifier: string;
  secretPrefix: string;
  status: CredentialStatus;
  leakPolicy: 'revoke' | 'report';
}

/** Every credential whose secret has one of these digests (the unique index finds each), in one query. */
export async function findCredentialsBySecretHashes(db: Database, secretHashes: Buffer[]): Promise<LeakedCredential[]> {
  if (secretHashes.length === 0) return [];
  return db
    .selectFrom('credentials as c')
    .innerJoin('companies as co', 'co.id', 'c.company_id')
    .select(['c.id', 'c.company_id as companyId', 'c.kind', 'c.identifier', 'c.secret_prefix as secretPrefix', 'c.status', 'co.leak_policy as leakPolicy'])
    .where('c.secret_hash', 'in', secretHashes)
    .orderBy('c.id')
    .execute();
}

/** Is there anything for the sweep to do? One indexed read, so most sweeps take no write lock. */
export async function hasLapsedCredentials(db: Database, now: number): Promise<boolean> {
  const row = await db
    .selectNoFrom((eb) =>
      eb
        .or([
          eb.exists(eb.selectFrom('credentials').select('id').where('status', '=', 'pending').where('expires_at', '<=', now)),
          eb.exists(eb.selectFrom('credentials').select('id').where('status', '=', 'retiring').where('retires_at', '<=', now)),
          eb.exists(eb.selectFrom('credentials').select('id').where('status', 'in', ['active', 'retiring']).where('expires_at', '<=', now)),
        ])
        .as('lapsed'),
    )
    .executeTakeFirstOrThrow();
  return Boolean(row.lapsed); // 1/0 on SQLite, true/false on PostgreSQL
}

export async function listLapsedPending(db: Database, now: number): Promise<CredentialRow[]> {
  return selectRows(db).where('c.status', '=', 'pending').where('c.expires_at', '<=', now).execute();
}

export async function listLapsedRetiring(db: Database, now: number): Promise<CredentialRow[]> {
  return selectRows(db).where('c.status', '=', 'retiring').where('c.retires_at', '<=', now).execute();
}

/** Saved credentials whose lifetime has ended (expires_at) but that are still marked working. */
export async function listLapsedLifetimes(db: Database, now: number): Promise<CredentialRow[]> {
  return selectRows(db).where('c.status', 'in', ['active', 'retiring']).where('c.expires_at', '<=', now).execute();
}

/**
 * Active credentials with an expiry warning due at `now` that was not sent yet: `thresholds` are the
 * warnings' days before expiry, ascending (1, 7, 14); the one due is the smallest threshold the
 * remaining time is within, and a warning already recorded for it or a smaller one means none is due.
 */
function warningDue(now: number, thresholds: readonly number[]) {
  const day = 24 * 60 * 60 * 1000;
  const cases = thresholds.map((days) => sql`when c.expires_at <= ${now + days * day} then ${sql.lit(days)}`);
  const dueDays = sql<1 | 7 | 14>`case ${sql.join(cases, sql` `)} end`;
  return (eb: ExpressionBuilder<Tables & { c: Tables['credentials'] }, 'c'>) =>
    eb.and([
      eb('c.status', '=', 'active'),
      eb('c.expires_at', '>', now),
      eb('c.expires_at', '<=', now + Math.max(...thresholds) * day),
      eb.not(
        eb.exists(
          eb
            .selectFrom('credential_expiry_warnings as w')
            .select('w.credential_id')
            .whereRef('w.credential_id', '=', 'c.id')
            .where('w.days_before', '<=', dueDays),
        ),
      ),
    ]);
}

/** Is any expiry warning due? One read, so most sweeps take no write lock. */
export async function hasExpiryWarningsDue(db: Database, now: number, thresholds: readonly number[]): Promise<boolean> {
  const row = await db.selectFrom('credentials as c').select('c.id').where(warningDue(now, thresholds)).limit(1).executeTakeFirst();
  return row !== undefined;
}

export async function listExpiryWarningsDue(db: Database, now: number, thresholds: readonly number[]): Promise<CredentialRow[]> {
  return selectRows(db).where(warningDue(now, thresholds)).orderBy('c.expires_at').execute();
}

/** Records that the warning `daysBefore` was sent; false if it already was (another replica, a second sweep). */
export async function recordExpiryWarning(db: Database, credentialId: number, daysBefore: 1 | 7 | 14, now: number): Promise<boolean> {
  const result = await db
    .insertInto('credential_expiry_warnings')
    .values({ credential_id: credentialId, days_before: daysBefore, sent_at: now })
    .onConflict((oc) => oc.columns(['credential_id', 'days_before']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** Unsaved generations of one kind that can still be saved, and when the first of them lapses (for the cap). */
export async function countUnsavedCredentials(
  db: Database,
  companyId: number,
  kind: CredentialKind,
  now: number,
): Promise<{ count: number; firstExpiry: number | null }> {
  return db
    .selectFrom('credentials')
    .select((eb) => [eb.fn.countAll<number>().as('count'), eb.fn.min('expires_at').as('firstExpiry')])
    .where('company_id', '=', companyId)
    .where('kind', '=', kind)
    .where('status', '=', 'pending')
    .where('expires_at', '>', now)
    .executeTakeFirstOrThrow();
}

/** The company that owns a Basic Auth username (case-insensitive: NOCASE, citext), if any. */
export async function usernameOwner(db: Database, username: string): Promise<number | undefined> {
  const row = await db.selectFrom('api_usernames').select('company_id').where('username', '=', username).executeTakeFirst();
  return row?.company_id;
}

/**
 * Does the company still hold this username? Only through a key it saved (whatever became of the key
 * since: a username stays with its company through rotations and revocations) or an unsaved key that
 * has not lapsed yet.
 */
export async function holdsUsername(db: Database, companyId: number, username: string, now: number): Promise<boolean> {
  const row = await db
    .selectFrom('credentials')
    .select('id')
    .where('company_id', '=', companyId)
    .where('kind', '=', 'basic')
    // Usernames compare without case, as api_usernames does; identifier itself is a plain text column.
    .where(sql<string>`lower(identifier)`, '=', sql<string>`lower(${username})`)
    .where((eb) => eb.or([eb('saved_at', 'is not', null), eb.and([eb('status', '=', 'pending'), eb('expires_at', '>', now)])]))
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

export async function claimUsername(db: Database, username: string, companyId: number, now: number): Promise<void> {
  await db
    .insertInto('api_usernames')
    .values({ username, company_id: companyId, claimed_at: now })
    .onConflict((oc) => oc.doNothing())
    .execute();
}

export async function releaseUsername(db: Database, username: string, companyId: number): Promise<void> {
  await db.deleteFrom('api_usernames').where('username', '=', username).where('company_id', '=', companyId).execute();
}

/** Pending or working client credentials that carry the scope (scopes are stored space-separated). */
export async function countLiveCredentialsWithScope(db: Database, scope: string): Promise<number> {
  // The exact word is matched here rather than in SQL: the engines share no substring function
  // (instr, strpos), and LIKE would read '_' as a wildcard. Live clients are a few per company.
  const rows = await db
    .selectFrom('credentials')
    .select('scopes')
    .where('kind', '=', 'oauth')
    .where('status', 'in', ['pending', 'active', 'retiring'])
    .execute();
  return rows.filter((r) => r.scopes.split(' ').includes(scope)).length;
}

/**
 * Generations that never worked: unsaved and lapsed (pending past expiry, or expired) before `cutoff`.
 * A saved credential is history (the API page, the audit trail) and is never pruned; nothing refers
 * to an unsaved one, but the NOT IN keeps that true even if it ever changed.
 */
const deadGenerations =
  (cutoff: number) =>
  (eb: ExpressionBuilder<Tables, 'credentials'>): Expression<SqlBool> =>
    eb.and([
      eb('saved_at', 'is', null),
      eb.or([
        eb.and([eb('status', '=', 'expired'), eb(eb.fn.coalesce('expires_at', 'ended_at', 'created_at'), '<', cutoff)]),
        eb.and([eb('status', '=', 'pending'), eb('expires_at', '<', cutoff)]),
      ]),
      eb('id', 'not in', eb.selectFrom('credentials as r').select('r.replaces_id').where('r.replaces_id', 'is not', null)),
    ]);

export async function countDeadGenerations(db: Database, cutoff: number): Promise<number> {
  const row = await db
    .selectFrom('credentials')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where(deadGenerations(cutoff))
    .executeTakeFirstOrThrow();
  return row.n;
}

export async function deleteDeadGenerations(db: Database, cutoff: number): Promise<number> {
  const result = await db.deleteFrom('credentials').where(deadGenerations(cutoff)).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * What the platform API's checks read of a credential: the row, its company's name and the scopes the
 * company may grant. A token's client is read without its secret's digest (nothing compares it).
 */
export interface CredentialState {
  id: number;
  companyId: number;
  companyName: string;
  kind: CredentialKind;
  identifier: string;
  scopes: string;
  companyScopes: string | null;
  status: string;
  retiresAt: number | null;
  /** Before Save, when the unsaved generation lapses; after, the end of its lifetime (null: none). */
  expiresAt: number | null;
  endedAt: number | null;
  /** Tells a saved credential's expiry from an unsaved one's lapse. */
  savedAt: number | null;
  allowedRanges: string;
}

/** A credential a presented secret may match: its state and its secret's digest. */
export interface CredentialCandidate extends CredentialState {
  secretHash: Buffer;
}

/** A throttle window read in the same query as the credential (src/http/throttle-repo.ts): its count and start. */
export interface WindowAlong {
  windowStart: number;
  count: number;
}

export interface CredentialLookups {
  /**
   * The working (active or retiring) rows of one identifier, at most two during an overlap, and in
   * the same read the throttle window `windowKey` names ('' for none): one query per request.
   */
  findWorkingCandidates(kind: CredentialKind, identifier: string, windowKey: string): Promise<{ candidates: CredentialCandidate[]; window?: WindowAlong }>;
  /** Only after a failure: the row a real secret belongs to, whatever its state (the unique index finds it), so a secret that stopped working is told apart from a guess. */
  findCandidateBySecretHash(secretHash: Buffer): Promise<CredentialCandidate | undefined>;
  findCandidateById(id: number, kind: CredentialKind): Promise<CredentialCandidate | undefined>;
}

// Placeholder values for preparedRead: distinct from each other and from every constant in the queries.
const KIND = '\u0000kind' as CredentialKind;
const IDENTIFIER = '\u0000identifier';
const WINDOW_KEY = '\u0000window';
const SECRET_HASH: Buffer = Buffer.from('\u0000secret_hash');
const ID = -1;

/** The scopes the company of `c` may grant, space-separated; the engines name the aggregate differently. */
function companyScopesOf(db: Database) {
  return isPostgres(db)
    ? sql<string | null>`(select string_agg(cs.scope, ' ') from company_scopes cs where cs.company_id = c.company_id)`
    : sql<string | null>`(select group_concat(cs.scope, ' ') from company_scopes cs where cs.company_id = c.company_id)`;
}

/** The columns of a CredentialCandidate, from credentials as `c` joined with companies as `co`. */
export function candidateColumns(db: Database) {
  return [...stateColumns(db), 'c.secret_hash as secretHash'] as const;
}

/** The columns of a CredentialState (no secret digest: a 32-byte Buffer per row that a token's check never reads). */
export function stateColumns(db: Database) {
  return [
    'c.id',
    'c.company_id as companyId',
    'co.name as companyName',
    'c.kind',
    'c.identifier',
    'c.scopes',
    companyScopesOf(db).as('companyScopes'),
    'c.status',
    'c.retires_at as retiresAt',
    'c.expires_at as expiresAt',
    'c.ended_at as endedAt',
    'c.saved_at as savedAt',
    'c.allowed_ranges as allowedRanges',
  ] as const;
}

/** A row of findWorkingCandidates' read: no candidate columns when the identifier has no working row. */
type CandidateWithWindow = { [K in keyof CredentialCandidate]: CredentialCandidate[K] | null } & { windowStart: number | null; windowCount: number | null };

/** The hot path of every platform API request: prepared reads (src/db/prepared.ts), never a query built per request. */
export function createCredentialLookups(db: Database): CredentialLookups {
  const candidates = db.selectFrom('credentials as c').innerJoin('companies as co', 'co.id', 'c.company_id').select(candidateColumns(db));
  // From a one-row table, so the window comes back even when no credential matches.
  const byIdentifier = preparedRead(
    db,
    db
      .selectFrom(sql<{ one: number }>`(select 1 as one)`.as('one'))
      .leftJoin('throttle_windows as tw', (join) => join.on('tw.key', '=', WINDOW_KEY))
      .leftJoin('credentials as c', (join) => join.on('c.kind', '=', KIND).on('c.identifier', '=', IDENTIFIER).on('c.status', 'in', ['active', 'retiring']))
      .leftJoin('companies as co', 'co.id', 'c.company_id')
      .select([...candidateColumns(db), 'tw.window_start as windowStart', 'tw.count as windowCount']) as unknown as Compilable<CandidateWithWindow>,
    [WINDOW_KEY, KIND, IDENTIFIER],
  );
  const bySecretHash = preparedRead(db, candidates.where('c.secret_hash', '=', SECRET_HASH) as Compilable<CredentialCandidate>, [SECRET_HASH]);
  const byId = preparedRead(db, candidates.where('c.id', '=', ID).where('c.kind', '=', KIND) as Compilable<CredentialCandidate>, [ID, KIND]);
  return {
    async findWorkingCandidates(kind, identifier, windowKey) {
      const rows = await byIdentifier(windowKey, kind, identifier);
      const first = rows[0];
      const window = first?.windowStart != null && first.windowCount != null ? { windowStart: first.windowStart, count: first.windowCount } : undefined;
      return { candidates: rows.filter((row) => row.id !== null) as CredentialCandidate[], window };
    },
    findCandidateBySecretHash: async (secretHash) => (await bySecretHash(secretHash))[0],
    findCandidateById: async (id, kind) => (await byId(id, kind))[0],
  };
}

/**
 * Writes one last-used time, unless a later one is already there (another replica, or an earlier
 * flush of a later request): a time only ever moves forward. The same SQL text every call.
 */
export async function recordLastUsed(db: Database, id: number, at: number): Promise<void> {
  await db
    .updateTable('credentials')
    .set({ last_used_at: at })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at)]))
    .execute();
}

/**
 * How many credentials there are of each kind and status, as verification sees them at `now`: a
 * pending generation or a saved credential past its expiry counts as expired and an overlap past its end as retired, even
 * before the sweep (every 30 s) has written that. One grouped count, read at each metrics scrape.
 */
export async function countCredentialsByStatus(db: Database, now: number): Promise<{ kind: CredentialKind; status: CredentialStatus; count: number }[]> {
  const statusAt = sql<CredentialStatus>`case
    when status = 'pending' and expires_at <= ${now} then 'expired'
    when status = 'retiring' and retires_at <= ${now} and (expires_at is null or retires_at <= expires_at) then 'retired'
    when status in ('active', 'retiring') and expires_at <= ${now} then 'expired'
    else status end`;
  return db
    .selectFrom((eb) =>
      eb
        .selectFrom('credentials')
        .select(['kind', statusAt.as('status')])
        .as('c'),
    )
    .select(['c.kind', 'c.status', (eb) => eb.fn.countAll<number>().as('count')])
    .groupBy(['c.kind', 'c.status'])
    .execute();
}
