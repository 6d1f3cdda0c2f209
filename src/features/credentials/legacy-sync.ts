import type { Db } from '../../db/open';
import { transaction } from '../../db/open';
import type { Clock } from '../../clock';
import type { AuditLog } from '../audit/service';
import { SYSTEM_ACTOR } from '../audit/service';
import type { Mailer } from '../mail/service';

/*
 * Transitional (decision 0011): the synchronous SQLite versions of the three credential functions that
 * modules not yet on Kysely call inside their own synchronous transactions: the scope catalog
 * (countLiveCredentialsWithScope) and the prune command (sweepCredentials, pruneDeadGenerations).
 * The same SQL as before the move. Delete this file when those callers await the Kysely versions in
 * service.ts.
 */

/** Pending or working client credentials that carry the scope (scopes are stored space-separated). */
export function countLiveCredentialsWithScopeSync(deps: { db: Db }, scope: string): number {
  return deps.db
    .prepare(
      `SELECT COUNT(*) FROM credentials
        WHERE kind = 'oauth' AND status IN ('pending', 'active', 'retiring') AND instr(' ' || scopes || ' ', ' ' || ? || ' ') > 0`,
    )
    .pluck()
    .get(scope) as number;
}

const DEAD_GENERATIONS = `FROM credentials
  WHERE saved_at IS NULL
    AND ((status = 'expired' AND coalesce(expires_at, ended_at, created_at) < ?) OR (status = 'pending' AND expires_at < ?))
    AND id NOT IN (SELECT replaces_id FROM credentials WHERE replaces_id IS NOT NULL)`;

/** Generations that never worked and lapsed before `cutoff`: counted (dryRun) or deleted. */
export function pruneDeadGenerationsSync(deps: { db: Db }, cutoff: number, dryRun: boolean): number {
  return dryRun
    ? (deps.db.prepare(`SELECT COUNT(*) ${DEAD_GENERATIONS}`).pluck().get(cutoff, cutoff) as number)
    : deps.db.prepare(`DELETE ${DEAD_GENERATIONS}`).run(cutoff, cutoff).changes;
}

interface LapsedRow {
  id: number;
  companyId: number;
  kind: 'basic' | 'oauth';
  identifier: string;
}

/** The sweep of service.ts's sweepCredentials, on the SQLite handle: lapsed generations expire, ended overlaps retire, each audited. */
export function sweepCredentialsSync(deps: { db: Db; clock: Clock; audit: AuditLog; mailer: Mailer }): { expired: number; retired: number } {
  const { db } = deps;
  return transaction(db, () => {
    const now = deps.clock.now();
    const columns = 'SELECT id, company_id AS companyId, kind, identifier FROM credentials';
    const lapsed = db.prepare(`${columns} WHERE status = 'pending' AND expires_at <= ?`).all(now) as LapsedRow[];
    for (const c of lapsed) {
      db.prepare(`UPDATE credentials SET status = 'expired', ended_at = ? WHERE id = ?`).run(now, c.id);
      const held = db
        .prepare(
          `SELECT EXISTS (SELECT 1 FROM credentials WHERE company_id = ? AND kind = 'basic' AND identifier = ? COLLATE NOCASE
             AND (saved_at IS NOT NULL OR (status = 'pending' AND expires_at > ?)))`,
        )
        .pluck()
        .get(c.companyId, c.identifier, now);
      if (c.kind === 'basic' && held !== 1) db.prepare('DELETE FROM api_usernames WHERE username = ? AND company_id = ?').run(c.identifier, c.companyId);
      deps.audit.record(SYSTEM_ACTOR, {
        action: 'credential.expire',
        companyId: c.companyId,
        target: c.identifier,
        details: { kind: c.kind, credentialId: c.id },
      });
    }
    const ended = db.prepare(`${columns} WHERE status = 'retiring' AND retires_at <= ?`).all(now) as LapsedRow[];
    for (const c of ended) {
      db.prepare(`UPDATE credentials SET status = 'retired', ended_at = ?, expires_at = NULL WHERE id = ?`).run(now, c.id);
      deps.audit.record(SYSTEM_ACTOR, {
        action: 'credential.overlap_end',
        companyId: c.companyId,
        target: c.identifier,
        details: { kind: c.kind, credentialId: c.id },
      });
    }
    return { expired: lapsed.length, retired: ended.length };
  });
}
