import type { Db } from '../db/open';

/** The SQL of the operations commands (plain SQL, ? parameters), beside the features' own repos. */

export function findCompanyByName(db: Db, name: string): { id: number; name: string } | undefined {
  return db.prepare('SELECT id, name FROM companies WHERE name = ?').get(name) as { id: number; name: string } | undefined;
}

export function findFirstCompany(db: Db): { id: number; name: string } | undefined {
  return db.prepare('SELECT id, name FROM companies ORDER BY id LIMIT 1').get() as { id: number; name: string } | undefined;
}

export function clearPassword(db: Db, userId: number): void {
  db.prepare('UPDATE users SET password_hash = NULL WHERE id = ?').run(userId);
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

export function countAuditBefore(db: Db, cutoff: number): number {
  return db.prepare('SELECT COUNT(*) FROM audit_log WHERE at < ?').pluck().get(cutoff) as number;
}

export function deleteAuditBefore(db: Db, cutoff: number): number {
  return db.prepare('DELETE FROM audit_log WHERE at < ?').run(cutoff).changes;
}

export function countExpiredSessions(db: Db, now: number): number {
  return db.prepare('SELECT COUNT(*) FROM sessions WHERE expires_at <= ?').pluck().get(now) as number;
}

export function deleteExpiredSessions(db: Db, now: number): number {
  return db.prepare('DELETE FROM sessions WHERE expires_at <= ?').run(now).changes;
}

/** Revoked access tokens are remembered only until they would have expired anyway (then a signature check refuses them). */
export function countExpiredRevokedTokens(db: Db, now: number): number {
  return db.prepare('SELECT COUNT(*) FROM revoked_tokens WHERE expires_at <= ?').pluck().get(now) as number;
}

export function deleteExpiredRevokedTokens(db: Db, now: number): number {
  return db.prepare('DELETE FROM revoked_tokens WHERE expires_at <= ?').run(now).changes;
}
