import type { Db } from '../../db/open';

/** Prepared once: asked on every Bearer request, so a revocation by any process is seen at once. */
export function revokedTokenChecker(db: Db): (jti: string) => boolean {
  const statement = db.prepare('SELECT 1 FROM revoked_tokens WHERE jti = ?').pluck();
  return (jti) => statement.get(jti) !== undefined;
}

export function insertRevokedToken(db: Db, jti: string, credentialId: number, expiresAt: number, now: number): void {
  db.prepare('INSERT OR IGNORE INTO revoked_tokens (jti, credential_id, expires_at, revoked_at) VALUES (?, ?, ?, ?)').run(jti, credentialId, expiresAt, now);
}

export function countExpiredRevokedTokens(db: Db, now: number): number {
  return db.prepare('SELECT COUNT(*) FROM revoked_tokens WHERE expires_at <= ?').pluck().get(now) as number;
}

/** A revoked token that has expired anyway needs no remembering. */
export function pruneRevokedTokens(db: Db, now: number): number {
  return db.prepare('DELETE FROM revoked_tokens WHERE expires_at <= ?').run(now).changes;
}
