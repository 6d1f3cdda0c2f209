import { sql } from 'kysely';
import type { SqlBool } from 'kysely';
import type { Database } from '../../db/connect';

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

/** The access_requests rows (aliased `r`) the filter selects; the email matches any part of the address. */
function filtered(db: Database, filter: AccessRequestFilter) {
  let query = db.selectFrom('access_requests as r');
  if (filter.status) query = query.where('r.status', '=', filter.status);
  if (filter.companyId !== undefined) query = query.where('r.company_id', '=', filter.companyId);
  if (filter.email) {
    // lower() on both sides: LIKE ignores case on SQLite (ASCII) but not on PostgreSQL, even on citext.
    const part = `%${filter.email.replace(/[\\%_]/g, '\\$&').toLowerCase()}%`;
    query = query.where(sql<SqlBool>`lower(r.email) like ${part} escape '\\'`);
  }
  return query;
}

/** Those requests with their company and the people who asked, decided and revoked, as AccessRequestRow. */
function selectRows(db: Database, filter: AccessRequestFilter = {}) {
  return filtered(db, filter)
    .innerJoin('companies as c', 'c.id', 'r.company_id')
    .leftJoin('users as rb', 'rb.id', 'r.requested_by')
    .leftJoin('users as db', 'db.id', 'r.decided_by')
    .leftJoin('users as vb', 'vb.id', 'r.revoked_by')
    .select([
      'r.id',
      'r.company_id as companyId',
      'c.name as companyName',
      'r.email',
      'rb.email as requestedBy',
      'r.status',
      'r.created_at as createdAt',
      'r.decided_at as decidedAt',
      'db.email as decidedBy',
      'r.decision_message as decisionMessage',
      'r.revoked_at as revokedAt',
      'vb.email as revokedBy',
    ]);
}

/** Pending first (what needs a decision), then the newest. */
function inReviewOrder(query: ReturnType<typeof selectRows>) {
  return query
    .orderBy(sql`case r.status when 'pending' then 0 else 1 end`)
    .orderBy('r.created_at', 'desc')
    .orderBy('r.id', 'desc');
}

export async function insertAccessRequest(db: Database, companyId: number, email: string, requestedBy: number | null, now: number): Promise<number> {
  const { id } = await db
    .insertInto('access_requests')
    .values({ company_id: companyId, email, requested_by: requestedBy, status: 'pending', created_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  return id;
}

export async function findAccessRequest(db: Database, id: number): Promise<AccessRequestRow | undefined> {
  return selectRows(db).where('r.id', '=', id).executeTakeFirst();
}

/** The company's open (pending or granted) request for this address, if any. */
export async function findOpenAccessRequest(db: Database, companyId: number, email: string): Promise<AccessRequestRow | undefined> {
  return selectRows(db).where('r.company_id', '=', companyId).where('r.email', '=', email).where('r.status', 'in', ['pending', 'granted']).executeTakeFirst();
}

export async function listCompanyAccessRequests(db: Database, companyId: number, limit: number): Promise<AccessRequestRow[]> {
  return inReviewOrder(selectRows(db, { companyId })).limit(limit).execute();
}

export async function listAccessRequests(db: Database, filter: AccessRequestFilter, limit: number, offset: number): Promise<AccessRequestRow[]> {
  return inReviewOrder(selectRows(db, filter)).limit(limit).offset(offset).execute();
}

export async function countAccessRequests(db: Database, filter: AccessRequestFilter): Promise<number> {
  const { n } = await filtered(db, filter)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return n;
}

export async function countPendingAccessRequests(db: Database): Promise<number> {
  return countAccessRequests(db, { status: 'pending' });
}

/** Records a decision on a pending request; false when it was no longer pending. */
export async function decideAccessRequest(
  db: Database,
  id: number,
  status: 'granted' | 'denied',
  decidedBy: number | null,
  message: string | null,
  now: number,
): Promise<boolean> {
  const result = await db
    .updateTable('access_requests')
    .set({ status, decided_at: now, decided_by: decidedBy, decision_message: message })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function revokeAccessRequest(db: Database, id: number, revokedBy: number | null, now: number): Promise<boolean> {
  const result = await db
    .updateTable('access_requests')
    .set({ status: 'revoked', revoked_at: now, revoked_by: revokedBy })
    .where('id', '=', id)
    .where('status', '=', 'granted')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** True when some company's request for this address is granted: a signed-in user with it may read the docs. */
export async function emailHasGrant(db: Database, email: string): Promise<boolean> {
  const row = await db.selectFrom('access_requests').select('id').where('email', '=', email).where('status', '=', 'granted').limit(1).executeTakeFirst();
  return row !== undefined;
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

function selectLinks(db: Database) {
  return db
    .selectFrom('docs_links as l')
    .innerJoin('access_requests as r', 'r.id', 'l.request_id')
    .select([
      'l.id',
      'l.request_id as requestId',
      'r.company_id as companyId',
      'r.email',
      'r.status as requestStatus',
      'l.expires_at as expiresAt',
      'l.revoked_at as revokedAt',
    ]);
}

export async function insertDocsLink(db: Database, requestId: number, tokenHash: Buffer, now: number, expiresAt: number): Promise<number> {
  const { id } = await db
    .insertInto('docs_links')
    .values({ request_id: requestId, token_hash: tokenHash, created_at: now, expires_at: expiresAt })
    .returning('id')
    .executeTakeFirstOrThrow();
  return id;
}

export async function findDocsLinkByHash(db: Database, tokenHash: Buffer): Promise<DocsLinkRow | undefined> {
  return selectLinks(db).where('l.token_hash', '=', tokenHash).executeTakeFirst();
}

export async function findDocsLink(db: Database, id: number): Promise<DocsLinkRow | undefined> {
  return selectLinks(db).where('l.id', '=', id).executeTakeFirst();
}

export async function revokeDocsLinks(db: Database, requestId: number, now: number): Promise<number> {
  const result = await db
    .updateTable('docs_links')
    .set({ revoked_at: now })
    .where('request_id', '=', requestId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function touchDocsLink(db: Database, id: number, now: number): Promise<void> {
  await db.updateTable('docs_links').set({ last_used_at: now }).where('id', '=', id).execute();
}
