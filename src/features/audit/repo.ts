import type { Db } from '../../db/open';

export interface AuditEntry {
  at: number;
  companyId: number | null;
  actorUserId: number | null;
  actor: string;
  action: string;
  target: string | null;
  ip: string | null;
  userAgent: string | null;
  details: string | null;
}

export interface AuditRow extends AuditEntry {
  id: number;
  companyName: string | null;
}

export interface AuditFilter {
  companyId?: number; // undefined = every company (operators)
  action?: string;
  from?: number;
  to?: number;
}

export function insertAuditEntry(db: Db, e: AuditEntry): void {
  db.prepare(
    `INSERT INTO audit_log (at, company_id, actor_user_id, actor, action, target, ip, user_agent, details)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(e.at, e.companyId, e.actorUserId, e.actor, e.action, e.target, e.ip, e.userAgent, e.details);
}

function where(filter: AuditFilter): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  if (filter.companyId !== undefined) {
    clauses.push('a.company_id = ?');
    params.push(filter.companyId);
  }
  if (filter.action) {
    clauses.push("(a.action = ? OR a.action LIKE ? ESCAPE '\\')");
    params.push(filter.action, `${filter.action.replace(/[\\%_]/g, '\\$&')}.%`);
  }
  if (filter.from !== undefined) {
    clauses.push('a.at >= ?');
    params.push(filter.from);
  }
  if (filter.to !== undefined) {
    clauses.push('a.at < ?');
    params.push(filter.to);
  }
  return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

const SELECT = `SELECT a.id, a.at, a.company_id AS companyId, c.name AS companyName, a.actor_user_id AS actorUserId,
  a.actor, a.action, a.target, a.ip, a.user_agent AS userAgent, a.details
  FROM audit_log a LEFT JOIN companies c ON c.id = a.company_id`;

export function listAuditEntries(db: Db, filter: AuditFilter, limit: number, offset: number): AuditRow[] {
  const w = where(filter);
  return db.prepare(`${SELECT} ${w.sql} ORDER BY a.at DESC, a.id DESC LIMIT ? OFFSET ?`).all(...w.params, limit, offset) as AuditRow[];
}

export function countAuditEntries(db: Db, filter: AuditFilter): number {
  const w = where(filter);
  return db
    .prepare(`SELECT COUNT(*) FROM audit_log a ${w.sql}`)
    .pluck()
    .get(...w.params) as number;
}

export function* iterateAuditEntries(db: Db, filter: AuditFilter): Generator<AuditRow> {
  const w = where(filter);
  yield* db.prepare(`${SELECT} ${w.sql} ORDER BY a.at DESC, a.id DESC`).iterate(...w.params) as Iterable<AuditRow>;
}

export function listAuditActions(db: Db, companyId?: number): string[] {
  return (
    companyId === undefined
      ? db.prepare('SELECT DISTINCT action FROM audit_log ORDER BY action').pluck().all()
      : db.prepare('SELECT DISTINCT action FROM audit_log WHERE company_id = ? ORDER BY action').pluck().all(companyId)
  ) as string[];
}

export function countAuditEntriesBefore(db: Db, cutoff: number): number {
  return db.prepare('SELECT COUNT(*) FROM audit_log WHERE at < ?').pluck().get(cutoff) as number;
}

export function deleteAuditEntriesBefore(db: Db, cutoff: number): number {
  return db.prepare('DELETE FROM audit_log WHERE at < ?').run(cutoff).changes;
}
