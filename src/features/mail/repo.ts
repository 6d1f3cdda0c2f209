import { sql } from 'kysely';
import type { Database } from '../../db/connect';
import { isPostgres } from '../../db/connect';

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

export async function insertOutboxMessage(db: Database, m: NewOutboxRow): Promise<number> {
  const { id } = await db
    .insertInto('outbox')
    .values({
      company_id: m.companyId,
      to_address: m.to,
      subject: m.subject,
      text_body: m.text,
      html_body: m.html,
      kind: m.kind,
      state: m.state,
      next_attempt_at: m.state === 'queued' ? m.now : null,
      created_at: m.now,
      secrets: m.secrets.length ? JSON.stringify(m.secrets) : null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return id;
}

/** The outbox rows (aliased `o`) the filter selects. */
function filtered(db: Database, filter: OutboxFilter) {
  let query = db.selectFrom('outbox as o');
  if (filter.state) query = query.where('o.state', '=', filter.state);
  if (filter.kind) query = query.where('o.kind', '=', filter.kind);
  return query;
}

/** Those rows with their company's name, as OutboxRow. */
function selectRows(db: Database, filter: OutboxFilter = {}) {
  return filtered(db, filter)
    .leftJoin('companies as c', 'c.id', 'o.company_id')
    .select([
      'o.id',
      'o.company_id as companyId',
      'c.name as companyName',
      'o.to_address as to',
      'o.subject',
      'o.text_body as text',
      'o.html_body as html',
      'o.kind',
      'o.state',
      'o.attempts',
      'o.last_error as lastError',
      'o.next_attempt_at as nextAttemptAt',
      'o.created_at as createdAt',
      'o.sent_at as sentAt',
      'o.message_id as messageId',
      'o.secrets',
    ]);
}

export async function findOutboxMessage(db: Database, id: number): Promise<OutboxRow | undefined> {
  return selectRows(db).where('o.id', '=', id).executeTakeFirst();
}

/**
 * Takes the next due message for one delivery attempt by pushing its next attempt past the lease:
 * every other mailer (another replica, or a second run here) sees it as not due, and a crash mid-send
 * only delays it. Returns its id, or undefined when nothing is due.
 *
 * One statement, so one short transaction of its own, and not transaction(): the claim needs the
 * row alone, not the console's write lock. On PostgreSQL `FOR UPDATE SKIP LOCKED` passes over a row
 * another replica is claiming at this moment and takes the next one, so replicas claim different
 * messages side by side without waiting on each other. SQLite has no row locks (nor that syntax):
 * its writers take turns, and each sees the claims committed before its own.
 */
export async function claimDueOutboxMessage(db: Database, now: number, leaseUntil: number): Promise<number | undefined> {
  const due = db
    .selectFrom('outbox')
    .select('id')
    .where('state', '=', 'queued')
    .where('next_attempt_at', '<=', now)
    .orderBy('next_attempt_at')
    .orderBy('id')
    .limit(1);
  const claimed = await db
    .updateTable('outbox')
    .set({ next_attempt_at: leaseUntil })
    .where('id', '=', isPostgres(db) ? due.forUpdate().skipLocked() : due)
    .returning('id')
    .executeTakeFirst();
  return claimed?.id;
}

export async function markOutboxSent(db: Database, id: number, now: number, messageId: string | null, text: string, html: string | null): Promise<void> {
  await db
    .updateTable('outbox')
    .set((eb) => ({
      state: 'sent',
      sent_at: now,
      attempts: eb('attempts', '+', 1),
      last_error: null,
      next_attempt_at: null,
      message_id: messageId,
      text_body: text,
      html_body: html,
      secrets: null,
    }))
    .where('id', '=', id)
    .execute();
}

/** Records a failed attempt: queued again at `nextAttemptAt`, or failed for good when that is null. */
export async function markOutboxAttemptFailed(db: Database, id: number, error: string, nextAttemptAt: number | null): Promise<void> {
  await db
    .updateTable('outbox')
    .set((eb) => ({
      attempts: eb('attempts', '+', 1),
      last_error: error,
      state: nextAttemptAt === null ? 'failed' : 'queued',
      next_attempt_at: nextAttemptAt,
    }))
    .where('id', '=', id)
    .execute();
}

/** A failed (or kept) message goes back in the queue for a fresh round of attempts. */
export async function requeueOutboxMessage(db: Database, id: number, now: number): Promise<boolean> {
  const result = await db
    .updateTable('outbox')
    .set({ state: 'queued', attempts: 0, next_attempt_at: now })
    .where('id', '=', id)
    .where('state', 'in', ['failed', 'kept'])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function listOutboxMessages(db: Database, filter: OutboxFilter, limit: number, offset: number): Promise<OutboxRow[]> {
  return selectRows(db, filter).orderBy('o.created_at', 'desc').orderBy('o.id', 'desc').limit(limit).offset(offset).execute();
}

export async function countOutboxMessages(db: Database, filter: OutboxFilter): Promise<number> {
  const { n } = await filtered(db, filter)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return n;
}

export async function listOutboxKinds(db: Database): Promise<string[]> {
  return (await db.selectFrom('outbox').select('kind').distinct().orderBy('kind').execute()).map((r) => r.kind);
}

/** The outbox's backlog, for the metrics scrape: messages waiting (queued), failed for good, and when the oldest waiting one was written. */
export async function readOutboxBacklog(db: Database): Promise<{ waiting: number; failed: number; oldestWaitingCreatedAt: number | null }> {
  const row = await db
    .selectFrom('outbox')
    .where('state', 'in', ['queued', 'failed'])
    .select([
      sql<number>`coalesce(sum(case when state = 'queued' then 1 else 0 end), 0)`.as('waiting'),
      sql<number>`coalesce(sum(case when state = 'failed' then 1 else 0 end), 0)`.as('failed'),
      sql<number | null>`min(case when state = 'queued' then created_at end)`.as('oldestWaitingCreatedAt'),
    ])
    .executeTakeFirstOrThrow();
  return {
    waiting: Number(row.waiting),
    failed: Number(row.failed),
    oldestWaitingCreatedAt: row.oldestWaitingCreatedAt === null ? null : Number(row.oldestWaitingCreatedAt),
  };
}
