import type { Db } from '../../db/open';

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
}

const SELECT = `SELECT c.id, c.company_id AS companyId, c.kind, c.identifier, c.secret_prefix AS secretPrefix, c.scopes,
  c.status, c.replaces_id AS replacesId, c.created_by AS createdBy, cu.email AS createdByEmail, c.created_at AS createdAt,
  c.expires_at AS expiresAt, c.saved_by AS savedBy, su.email AS savedByEmail, c.saved_at AS savedAt,
  c.retires_at AS retiresAt, c.ended_at AS endedAt, ru.email AS revokedByEmail, c.revoke_reason AS revokeReason,
  c.last_used_at AS lastUsedAt
  FROM credentials c
  LEFT JOIN users cu ON cu.id = c.created_by
  LEFT JOIN users su ON su.id = c.saved_by
  LEFT JOIN users ru ON ru.id = c.revoked_by`;

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
}

export function insertPendingCredential(db: Db, c: NewCredential): number {
  return Number(
    db
      .prepare(
        `INSERT INTO credentials (company_id, kind, identifier, secret_prefix, secret_hash, scopes, status, replaces_id, created_by, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)`,
      )
      .run(c.companyId, c.kind, c.identifier, c.secretPrefix, c.secretHash, c.scopes, c.replacesId, c.createdBy, c.createdAt, c.expiresAt).lastInsertRowid,
  );
}

/** One company's credential by id: another company's id is simply not found. */
export function findCompanyCredential(db: Db, companyId: number, id: number): CredentialRow | undefined {
  return db.prepare(`${SELECT} WHERE c.id = ? AND c.company_id = ?`).get(id, companyId) as CredentialRow | undefined;
}

/** Any company's credential by id: for operators only (routes for administrators use findCompanyCredential). */
export function findCredentialById(db: Db, id: number): CredentialRow | undefined {
  return db.prepare(`${SELECT} WHERE c.id = ?`).get(id) as CredentialRow | undefined;
}

export function findActiveCredential(db: Db, companyId: number, kind: CredentialKind): CredentialRow | undefined {
  return db.prepare(`${SELECT} WHERE c.company_id = ? AND c.kind = ? AND c.status = 'active'`).get(companyId, kind) as CredentialRow | undefined;
}

export function listRetiringCredentials(db: Db, companyId: number, kind: CredentialKind): CredentialRow[] {
  return db
    .prepare(`${SELECT} WHERE c.company_id = ? AND c.kind = ? AND c.status = 'retiring' ORDER BY c.saved_at DESC`)
    .all(companyId, kind) as CredentialRow[];
}

/** Recent history (ended credentials) for the API page, newest first. */
export function listEndedCredentials(db: Db, companyId: number, kind: CredentialKind, limit: number): CredentialRow[] {
  return db
    .prepare(`${SELECT} WHERE c.company_id = ? AND c.kind = ? AND c.status IN ('retired', 'revoked') ORDER BY c.ended_at DESC LIMIT ?`)
    .all(companyId, kind, limit) as CredentialRow[];
}

/** Every company's working credentials, for operators (never a secret, only prefixes). */
export function listAllWorkingCredentials(db: Db): (CredentialRow & { companyName: string })[] {
  return db
    .prepare(
      `SELECT x.*, co.name AS companyName FROM (${SELECT} WHERE c.status IN ('active', 'retiring')) x
       JOIN companies co ON co.id = x.companyId ORDER BY co.name COLLATE NOCASE, x.kind, x.status`,
    )
    .all() as (CredentialRow & { companyName: string })[];
}

export function activateCredential(db: Db, id: number, savedBy: number | null, now: number): void {
  db.prepare(`UPDATE credentials SET status = 'active', saved_by = ?, saved_at = ?, expires_at = NULL WHERE id = ? AND status = 'pending'`).run(
    savedBy,
    now,
    id,
  );
}

export function startRetiring(db: Db, id: number, retiresAt: number): void {
  db.prepare(`UPDATE credentials SET status = 'retiring', retires_at = ? WHERE id = ?`).run(retiresAt, id);
}

export function endCredential(db: Db, id: number, status: 'retired' | 'expired', now: number): void {
  db.prepare(`UPDATE credentials SET status = ?, ended_at = ?, expires_at = CASE WHEN ? = 'expired' THEN expires_at ELSE NULL END WHERE id = ?`).run(
    status,
    now,
    status,
    id,
  );
}

export function revokeCredential(db: Db, id: number, revokedBy: number | null, reason: string, now: number): void {
  db.prepare(`UPDATE credentials SET status = 'revoked', ended_at = ?, revoked_by = ?, revoke_reason = ? WHERE id = ?`).run(now, revokedBy, reason, id);
}

/** Is there anything for the sweep to do? One indexed read, so most sweeps take no write lock. */
export function hasLapsedCredentials(db: Db, now: number): boolean {
  return (
    db
      .prepare(
        `SELECT EXISTS (SELECT 1 FROM credentials WHERE status = 'pending' AND expires_at <= ?)
             OR EXISTS (SELECT 1 FROM credentials WHERE status = 'retiring' AND retires_at <= ?)`,
      )
      .pluck()
      .get(now, now) === 1
  );
}

export function listLapsedPending(db: Db, now: number): CredentialRow[] {
  return db.prepare(`${SELECT} WHERE c.status = 'pending' AND c.expires_at <= ?`).all(now) as CredentialRow[];
}

export function listLapsedRetiring(db: Db, now: number): CredentialRow[] {
  return db.prepare(`${SELECT} WHERE c.status = 'retiring' AND c.retires_at <= ?`).all(now) as CredentialRow[];
}

/** Unsaved generations of one kind that can still be saved, and when the first of them lapses (for the cap). */
export function countUnsavedCredentials(db: Db, companyId: number, kind: CredentialKind, now: number): { count: number; firstExpiry: number | null } {
  return db
    .prepare(
      `SELECT COUNT(*) AS count, MIN(expires_at) AS firstExpiry FROM credentials
       WHERE company_id = ? AND kind = ? AND status = 'pending' AND expires_at > ?`,
    )
    .get(companyId, kind, now) as { count: number; firstExpiry: number | null };
}

/** The company that owns a Basic Auth username (case-insensitive), if any. */
export function usernameOwner(db: Db, username: string): number | undefined {
  return db.prepare('SELECT company_id FROM api_usernames WHERE username = ?').pluck().get(username) as number | undefined;
}

/**
 * Does the company still hold this username? Only through a key it saved (whatever became of the key
 * since: a username stays with its company through rotations and revocations) or an unsaved key that
 * has not lapsed yet.
 */
export function holdsUsername(db: Db, companyId: number, username: string, now: number): boolean {
  return (
    db
      .prepare(
        `SELECT EXISTS (SELECT 1 FROM credentials WHERE company_id = ? AND kind = 'basic' AND identifier = ? COLLATE NOCASE
           AND (saved_at IS NOT NULL OR (status = 'pending' AND expires_at > ?)))`,
      )
      .pluck()
      .get(companyId, username, now) === 1
  );
}

export function claimUsername(db: Db, username: string, companyId: number, now: number): void {
  db.prepare('INSERT OR IGNORE INTO api_usernames (username, company_id, claimed_at) VALUES (?, ?, ?)').run(username, companyId, now);
}

export function releaseUsername(db: Db, username: string, companyId: number): void {
  db.prepare('DELETE FROM api_usernames WHERE username = ? AND company_id = ?').run(username, companyId);
}

/** Pending or working client credentials that carry the scope (scopes are stored space-separated). */
export function countLiveCredentialsWithScope(db: Db, scope: string): number {
  return db
    .prepare(
      `SELECT COUNT(*) FROM credentials
        WHERE kind = 'oauth' AND status IN ('pending', 'active', 'retiring') AND instr(' ' || scopes || ' ', ' ' || ? || ' ') > 0`,
    )
    .pluck()
    .get(scope) as number;
}

/**
 * Generations that never worked: unsaved and lapsed (pending past expiry, or expired) before `cutoff`.
 * A saved credential is history (the API page, the audit trail) and is never pruned; nothing refers
 * to an unsaved one, but the NOT IN keeps that true even if it ever changed.
 */
const DEAD_GENERATIONS = `FROM credentials
  WHERE saved_at IS NULL
    AND ((status = 'expired' AND coalesce(expires_at, ended_at, created_at) < ?) OR (status = 'pending' AND expires_at < ?))
    AND id NOT IN (SELECT replaces_id FROM credentials WHERE replaces_id IS NOT NULL)`;

export function countDeadGenerations(db: Db, cutoff: number): number {
  return db.prepare(`SELECT COUNT(*) ${DEAD_GENERATIONS}`).pluck().get(cutoff, cutoff) as number;
}

export function deleteDeadGenerations(db: Db, cutoff: number): number {
  return db.prepare(`DELETE ${DEAD_GENERATIONS}`).run(cutoff, cutoff).changes;
}

/** What the platform API's credential check reads: the row, its company's name and the scopes the company may grant. */
export interface CredentialCandidate {
  id: number;
  companyId: number;
  companyName: string;
  kind: CredentialKind;
  identifier: string;
  secretHash: Buffer;
  scopes: string;
  companyScopes: string | null;
  status: string;
  retiresAt: number | null;
  expiresAt: number | null;
  endedAt: number | null;
}

export interface CredentialLookups {
  /** The working (active or retiring) rows of one identifier: at most two during an overlap. */
  findWorkingCandidates(kind: CredentialKind, identifier: string): CredentialCandidate[];
  /** Only after a failure: the row a real secret belongs to, whatever its state (the unique index finds it), so a secret that stopped working is told apart from a guess. */
  findCandidateBySecretHash(secretHash: Buffer): CredentialCandidate | undefined;
  findCandidateById(id: number, kind: CredentialKind): CredentialCandidate | undefined;
}

/** The hot path of every platform API request: statements prepared once per process, never per request. */
export function createCredentialLookups(db: Db): CredentialLookups {
  const columns = `c.id, c.company_id AS companyId, co.name AS companyName, c.kind, c.identifier, c.secret_hash AS secretHash,
    c.scopes, (SELECT group_concat(cs.scope, ' ') FROM company_scopes cs WHERE cs.company_id = c.company_id) AS companyScopes,
    c.status, c.retires_at AS retiresAt, c.expires_at AS expiresAt, c.ended_at AS endedAt
    FROM credentials c JOIN companies co ON co.id = c.company_id`;
  const byIdentifier = db.prepare(`SELECT ${columns} WHERE c.kind = ? AND c.identifier = ? AND c.status IN ('active', 'retiring')`);
  const bySecretHash = db.prepare(`SELECT ${columns} WHERE c.secret_hash = ?`);
  const byId = db.prepare(`SELECT ${columns} WHERE c.id = ? AND c.kind = ?`);
  return {
    findWorkingCandidates: (kind, identifier) => byIdentifier.all(kind, identifier) as CredentialCandidate[],
    findCandidateBySecretHash: (secretHash) => bySecretHash.get(secretHash) as CredentialCandidate | undefined,
    findCandidateById: (id, kind) => byId.get(id, kind) as CredentialCandidate | undefined,
  };
}

/** Writes coalesced last-used times (credential id -> time) in one transaction; the statement is prepared once. */
export function createLastUsedWriter(db: Db): (times: ReadonlyMap<number, number>) => void {
  const update = db.prepare('UPDATE credentials SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?');
  const writeAll = db.transaction((times: ReadonlyMap<number, number>) => {
    for (const [id, at] of times) update.run(at, id);
  });
  return (times) => writeAll(times);
}
