import type { Db } from '../../db/open';

export type AccessStatus = 'pending' | 'granted' | 'denied' | 'revoked';
export const ACCESS_STATUSES: readonly AccessStatus[] = ['pending', 'granted', 'denied', 'revoked'];

export interface AccessRequestRow {
  id: number;
  companyId: number;
  companyName: string;
  email: string;
  requestedBy: string | null; // the requester's email
  status: AccessStatus;
  createdAt: number;
  decidedAt: number | null;
  decidedBy: string | null;
  decisionMessage: string | null;
  revokedAt: number | null;
  revokedBy: string | null;
}

export interface AccessRequestFilter {
  status?: AccessStatus;
  companyId?: number;
  email?: string;
}

const SELECT = `SELECT r.id, r.company_id AS companyId, c.name AS companyName, r.email, rb.email AS requestedBy, r.status,
    r.created_at AS createdAt, r.decided_at AS decidedAt, db.email AS decidedBy, r.decision_message AS decisionMessage,
    r.revoked_at AS revokedAt, vb.email AS revokedBy
  FROM access_requests r
  JOIN companies c ON c.id = r.company_id
  LEFT JOIN users rb ON rb.id = r.requested_by
  LEFT JOIN users db ON db.id = r.decided_by
  LEFT JOIN users vb ON vb.id = r.revoked_by`;

// Pending first (what needs a decision), then the newest.
const ORDER = `ORDER BY CASE r.status WHEN 'pending' THEN 0 ELSE 1 END, r.created_at DESC, r.id DESC`;

export function insertAccessRequest(db: Db, companyId: number, email: string, requestedBy: number | null, now: number): number {
  return Number(
    db
      .prepare('INSERT INTO access_requests (company_id, email, requested_by, status, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(companyId, email, requestedBy, 'pending', now).lastInsertRowid,
  );
}

export function findAccessRequest(db: Db, id: number): AccessRequestRow | undefined {
  return db.prepare(`${SELECT} WHERE r.id = ?`).get(id) as AccessRequestRow | undefined;
}

/** The company's open (pending or granted) request for this address, if any. */
export function findOpenAccessRequest(db: Db, companyId: number, email: string): AccessRequestRow | undefined {
  return db.prepare(`${SELECT} WHERE r.company_id = ? AND r.email = ? AND r.status IN ('pending', 'granted')`).get(companyId, email) as
    AccessRequestRow | undefined;
}

export function listCompanyAccessRequests(db: Db, companyId: number, limit: number): AccessRequestRow[] {
  return db.prepare(`${SELECT} WHERE r.company_id = ? ${ORDER} LIMIT ?`).all(companyId, limit) as AccessRequestRow[];
}

function where(filter: AccessRequestFilter): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  if (filter.status) {
    clauses.push('r.status = ?');
    params.push(filter.status);
  }
  if (filter.companyId !== undefined) {
    clauses.push('r.company_id = ?');
    params.push(filter.companyId);
  }
  if (filter.email) {
    clauses.push("r.email LIKE ? ESCAPE '\\'");
    params.push(`%${filter.email.replace(/[\\%_]/g, '\\$&')}%`);
  }
  return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

export function listAccessRequests(db: Db, filter: AccessRequestFilter, limit: number, offset: number): AccessRequestRow[] {
  const w = where(filter);
  return db.prepare(`${SELECT} ${w.sql} ${ORDER} LIMIT ? OFFSET ?`).all(...w.params, limit, offset) as AccessRequestRow[];
}

export function countAccessRequests(db: Db, filter: AccessRequestFilter): number {
  const w = where(filter);
  return db
    .prepare(`SELECT COUNT(*) FROM access_requests r ${w.sql}`)
    .pluck()
    .get(...w.params) as number;
}

export function countPendingAccessRequests(db: Db): number {
  return db.prepare("SELECT COUNT(*) FROM access_requests WHERE status = 'pending'").pluck().get() as number;
}

/** Records a decision on a pending request; false when it was no longer pending. */
export function decideAccessRequest(db: Db, id: number, status: 'granted' | 'denied', decidedBy: number | null, message: string | null, now: number): boolean {
  return (
    db
      .prepare("UPDATE access_requests SET status = ?, decided_at = ?, decided_by = ?, decision_message = ? WHERE id = ? AND status = 'pending'")
      .run(status, now, decidedBy, message, id).changes === 1
  );
}

export function revokeAccessRequest(db: Db, id: number, revokedBy: number | null, now: number): boolean {
  return (
    db.prepare("UPDATE access_requests SET status = 'revoked', revoked_at = ?, revoked_by = ? WHERE id = ? AND status = 'granted'").run(now, revokedBy, id)
      .changes === 1
  );
}

/** True when some company's request for this address is granted: a signed-in user with it may read the docs. */
export function emailHasGrant(db: Db, email: string): boolean {
  return db.prepare("SELECT 1 FROM access_requests WHERE email = ? AND status = 'granted' LIMIT 1").get(email) !== undefined;
}

export interface DocsLinkRow {
  id: number;
  requestId: number;
  companyId: number;
  email: string;
  requestStatus: AccessStatus;
  expiresAt: number;
  revokedAt: number | null;
}

const LINK_SELECT = `SELECT l.id, l.request_id AS requestId, r.company_id AS companyId, r.email, r.status AS requestStatus, l.expires_at AS expiresAt, l.revoked_at AS revokedAt
  FROM docs_links l JOIN access_requests r ON r.id = l.request_id`;

export function insertDocsLink(db: Db, requestId: number, tokenHash: Buffer, now: number, expiresAt: number): number {
  return Number(
    db.prepare('INSERT INTO docs_links (request_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?)').run(requestId, tokenHash, now, expiresAt)
      .lastInsertRowid,
  );
}

export function findDocsLinkByHash(db: Db, tokenHash: Buffer): DocsLinkRow | undefined {
  return db.prepare(`${LINK_SELECT} WHERE l.token_hash = ?`).get(tokenHash) as DocsLinkRow | undefined;
}

export function findDocsLink(db: Db, id: number): DocsLinkRow | undefined {
  return db.prepare(`${LINK_SELECT} WHERE l.id = ?`).get(id) as DocsLinkRow | undefined;
}

export function revokeDocsLinks(db: Db, requestId: number, now: number): number {
  return db.prepare('UPDATE docs_links SET revoked_at = ? WHERE request_id = ? AND revoked_at IS NULL').run(now, requestId).changes;
}

export function touchDocsLink(db: Db, id: number, now: number): void {
  db.prepare('UPDATE docs_links SET last_used_at = ? WHERE id = ?').run(now, id);
}
