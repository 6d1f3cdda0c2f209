import type { Database } from '../../db/connect';
import type { Clock } from '../../clock';
import { paginate } from '../../http/pagination';
import type { Page } from '../../http/pagination';
import * as repo from './repo';
import type { AuditEntry, AuditFilter, AuditRow } from './repo';

export type { AuditFilter } from './repo';

/** Who did something and from where; routes build it from the request with `actorFrom(req)`. */
export interface Actor {
  userId: number | null;
  label: string; // email, 'system', or a credential identifier
  ip: string | null;
  userAgent: string | null;
}

export const SYSTEM_ACTOR: Actor = { userId: null, label: 'system', ip: null, userAgent: null };

export interface AuditEvent {
  action: string; // dotted: auth.sign_in, company.create, credential.save, ...
  companyId: number | null;
  target?: string;
  details?: Record<string, unknown>;
}

/** The one audit service every feature calls. Details must never carry a secret. */
export class AuditLog {
  constructor(
    private db: Database,
    private clock: Clock,
  ) {}

  /**
   * Records one event. Inside transaction() pass its `trx`: the entry then commits or rolls back with
   * the change it describes (on PostgreSQL another connection would not see, or wait for, that change).
   */
  async record(actor: Actor, event: AuditEvent, trx?: Database): Promise<void> {
    const entry: AuditEntry = {
      at: this.clock.now(),
      companyId: event.companyId,
      actorUserId: actor.userId,
      actor: actor.label.slice(0, 320),
      action: event.action,
      target: event.target?.slice(0, 500) ?? null,
      ip: actor.ip,
      userAgent: actor.userAgent?.slice(0, 300) ?? null,
      details: event.details ? JSON.stringify(event.details) : null,
    };
    await repo.insertAuditEntry(trx ?? this.db, entry);
  }
}

/** One page of the audit log, newest first, and the page it turned out to be. */
export async function listAuditPage(
  deps: { db: Database },
  filter: AuditFilter,
  requestedPage: number,
  pageSize: number,
): Promise<{ entries: AuditRow[]; at: Page }> {
  const at = paginate(await repo.countAuditEntries(deps.db, filter), requestedPage, pageSize);
  return { entries: await repo.listAuditEntries(deps.db, filter, at.limit, at.offset), at };
}

/** Every entry the filter selects, newest first, a batch at a time (the CSV export streams them). */
export function iterateAuditEntries(deps: { db: Database }, filter: AuditFilter): AsyncGenerator<AuditRow> {
  return repo.iterateAuditEntries(deps.db, filter);
}

/** The actions that occur in the log (one company's, or every company's), for the filter. */
export async function listAuditActions(deps: { db: Database }, companyId?: number): Promise<string[]> {
  return repo.listAuditActions(deps.db, companyId);
}

/** Entries older than `cutoff`: counted (dryRun) or deleted. */
export async function pruneAuditEntries(deps: { db: Database }, cutoff: number, dryRun: boolean): Promise<number> {
  return dryRun ? repo.countAuditEntriesBefore(deps.db, cutoff) : repo.deleteAuditEntriesBefore(deps.db, cutoff);
}
