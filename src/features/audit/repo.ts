import { sql } from 'kysely';
import type { SqlBool } from 'kysely';
import type { Database } from '../../db/connect';

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

const row = (e: AuditEntry) => ({
  at: e.at,
  company_id: e.companyId,
  actor_user_id: e.actorUserId,
  actor: e.actor,
  action: e.action,
  target: e.target,
  ip: e.ip,
  user_agent: e.userAgent,
  details: e.details,
});

export async function insertAuditEntry(db: Database, e: AuditEntry): Promise<void> {
  await db.insertInto('audit_log').values(row(e)).execute();
}

/** The audit_log rows (aliased `a`) the filter selects; the action matches itself and its dotted children. */
function filtered(db: Database, filter: AuditFilter) {
  let query = db.selectFrom('audit_log as a');
  if (filter.companyId !== undefined) query = query.where('a.company_id', '=', filter.companyId);
  const action = filter.action;
  if (action) {
    const children = `${action.replace(/[\\%_]/g, '\\$&')}.%`;
    query = query.where((eb) => eb.or([eb('a.action', '=', action), sql<SqlBool>`a.action like ${children} escape '\\'`]));
  }
  if (filter.from !== undefined) query = query.where('a.at', '>=', filter.from);
  if (filter.to !== undefined) query = query.where('a.at', '<', filter.to);
  return query;
}

function selectRows(db: Database, filter: AuditFilter) {
  return filtered(db, filter)
    .leftJoin('companies as c', 'c.id', 'a.company_id')
    .select([
      'a.id',
      'a.at',
      'a.company_id as companyId',
      'c.name as companyName',
      'a.actor_user_id as actorUserId',
      'a.actor',
      'a.action',
      'a.target',
      'a.ip',
      'a.user_agent as userAgent',
      'a.details',
    ])
    .orderBy('a.at', 'desc')
    .orderBy('a.id', 'desc');
}

export async function listAuditEntries(db: Database, filter: AuditFilter, limit: number, offset: number): Promise<AuditRow[]> {
  return selectRows(db, filter).limit(limit).offset(offset).execute();
}

export async function countAuditEntries(db: Database, filter: AuditFilter): Promise<number> {
  const { n } = await filtered(db, filter)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return n;
}

/** Rows read per query by iterateAuditEntries: the export holds one batch in memory at a time. */
const EXPORT_BATCH = 500;

/**
 * Every entry the filter selects, newest first, a batch at a time. Each batch continues after the last
 * row of the one before (at, id), so entries written during the export neither repeat nor shift rows.
 */
export async function* iterateAuditEntries(db: Database, filter: AuditFilter): AsyncGenerator<AuditRow> {
  let last: AuditRow | undefined;
  for (;;) {
    let query = selectRows(db, filter);
    if (last) {
      const { at, id } = last;
      query = query.where((eb) => eb.or([eb('a.at', '<', at), eb.and([eb('a.at', '=', at), eb('a.id', '<', id)])]));
    }
    const batch = await query.limit(EXPORT_BATCH).execute();
    yield* batch;
    if (batch.length < EXPORT_BATCH) return;
    last = batch[batch.length - 1];
  }
}

export async function listAuditActions(db: Database, companyId?: number): Promise<string[]> {
  let query = db.selectFrom('audit_log').select('action').distinct().orderBy('action');
  if (companyId !== undefined) query = query.where('company_id', '=', companyId);
  return (await query.execute()).map((r) => r.action);
}

export async function countAuditEntriesBefore(db: Database, cutoff: number): Promise<number> {
  const { n } = await db
    .selectFrom('audit_log')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('at', '<', cutoff)
    .executeTakeFirstOrThrow();
  return n;
}

export async function deleteAuditEntriesBefore(db: Database, cutoff: number): Promise<number> {
  const result = await db.deleteFrom('audit_log').where('at', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}
