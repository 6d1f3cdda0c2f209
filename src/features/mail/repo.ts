import type { Db } from '../../db/open';

export type OutboxState = 'queued' | 'sent' | 'failed' | 'kept';
export const OUTBOX_STATES: readonly OutboxState[] = ['queued', 'sent', 'failed', 'kept'];

export interface OutboxRow {
  id: number;
  companyId: number | null;
  companyName: string | null;
  to: string;
  subject: string;
  text: string;
  html: string | null;
  kind: string;
  state: OutboxState;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: number | null;
  createdAt: number;
  sentAt: number | null;
  messageId: string | null;
  secrets: string | null;
}

export interface NewOutboxRow {
  companyId: number | null;
  to: string;
  subject: string;
  text: string;
  html: string | null;
  kind: string;
  state: OutboxState;
  secrets: string[];
  now: number;
}

export interface OutboxFilter {
  state?: OutboxState;
  kind?: string;
}

const COLUMNS = `o.id, o.company_id AS companyId, c.name AS companyName, o.to_address AS "to", o.subject, o.text_body AS text,
  o.html_body AS html, o.kind, o.state, o.attempts, o.last_error AS lastError, o.next_attempt_at AS nextAttemptAt,
  o.created_at AS createdAt, o.sent_at AS sentAt, o.message_id AS messageId, o.secrets`;
const FROM = 'FROM outbox o LEFT JOIN companies c ON c.id = o.company_id';

export function insertOutboxMessage(db: Db, m: NewOutboxRow): number {
  return Number(
    db
      .prepare(
        `INSERT INTO outbox (company_id, to_address, subject, text_body, html_body, kind, state, next_attempt_at, created_at, secrets)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        m.companyId,
        m.to,
        m.subject,
        m.text,
        m.html,
        m.kind,
        m.state,
        m.state === 'queued' ? m.now : null,
        m.now,
        m.secrets.length ? JSON.stringify(m.secrets) : null,
      ).lastInsertRowid,
  );
}

export function findOutboxMessage(db: Db, id: number): OutboxRow | undefined {
  return db.prepare(`SELECT ${COLUMNS} ${FROM} WHERE o.id = ?`).get(id) as OutboxRow | undefined;
}

export function listDueOutboxIds(db: Db, now: number, limit: number): number[] {
  return db
    .prepare("SELECT id FROM outbox WHERE state = 'queued' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?")
    .pluck()
    .all(now, limit) as number[];
}

/**
 * Takes a due message for one delivery attempt by pushing its next attempt past the lease: another
 * process (or a second run here) sees it as not due, and a crash mid-send only delays it.
 */
export function claimOutboxMessage(db: Db, id: number, now: number, leaseUntil: number): boolean {
  return db.prepare("UPDATE outbox SET next_attempt_at = ? WHERE id = ? AND state = 'queued' AND next_attempt_at <= ?").run(leaseUntil, id, now).changes === 1;
}

export function markOutboxSent(db: Db, id: number, now: number, messageId: string | null, text: string, html: string | null): void {
  db.prepare(
    `UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL, next_attempt_at = NULL,
            message_id = ?, text_body = ?, html_body = ?, secrets = NULL
      WHERE id = ?`,
  ).run(now, messageId, text, html, id);
}

/** Records a failed attempt: queued again at `nextAttemptAt`, or failed for good when that is null. */
export function markOutboxAttemptFailed(db: Db, id: number, error: string, nextAttemptAt: number | null): void {
  db.prepare(`UPDATE outbox SET attempts = attempts + 1, last_error = ?, state = ?, next_attempt_at = ? WHERE id = ?`).run(
    error,
    nextAttemptAt === null ? 'failed' : 'queued',
    nextAttemptAt,
    id,
  );
}

/** A failed (or kept) message goes back in the queue for a fresh round of attempts. */
export function requeueOutboxMessage(db: Db, id: number, now: number): boolean {
  return (
    db.prepare("UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = ? WHERE id = ? AND state IN ('failed', 'kept')").run(now, id).changes === 1
  );
}

function where(filter: OutboxFilter): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  if (filter.state) {
    clauses.push('o.state = ?');
    params.push(filter.state);
  }
  if (filter.kind) {
    clauses.push('o.kind = ?');
    params.push(filter.kind);
  }
  return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

export function listOutboxMessages(db: Db, filter: OutboxFilter, limit: number, offset: number): OutboxRow[] {
  const w = where(filter);
  return db.prepare(`SELECT ${COLUMNS} ${FROM} ${w.sql} ORDER BY o.created_at DESC, o.id DESC LIMIT ? OFFSET ?`).all(...w.params, limit, offset) as OutboxRow[];
}

export function countOutboxMessages(db: Db, filter: OutboxFilter): number {
  const w = where(filter);
  return db
    .prepare(`SELECT COUNT(*) FROM outbox o ${w.sql}`)
    .pluck()
    .get(...w.params) as number;
}

export function listOutboxKinds(db: Db): string[] {
  return db.prepare('SELECT DISTINCT kind FROM outbox ORDER BY kind').pluck().all() as string[];
}
