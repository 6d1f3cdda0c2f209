import type { Db } from '../../db/open';
import type { Clock } from '../../clock';
import { paginate } from '../../http/pagination';
import type { Page } from '../../http/pagination';
import * as repo from './repo';
import type { AuditFilter, AuditRow } from './repo';

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
    private db: Db,
    private clock: Clock,
  ) {}

  record(actor: Actor, event: AuditEvent): void {
    repo.insertAuditEntry(this.db, {
      at: this.clock.now(),
      companyId: event.companyId,
      actorUserId: actor.userId,
      actor: actor.label.slice(0, 320),
      action: event.action,
      target: event.target?.slice(0, 500) ?? null,
      ip: actor.ip,
      userAgent: actor.userAgent?.slice(0, 300) ?? null,
      details: event.details ? JSON.stringify(event.details) : null,
    });
  }
}

/** One page of the audit log, newest first, and the page it turned out to be. */
export function listAuditPage(deps: { db: Db }, filter: AuditFilter, requestedPage: number, pageSize: number): { entries: AuditRow[]; at: Page } {
  const at = paginate(repo.countAuditEntries(deps.db, filter), requestedPage, pageSize);
  return { entries: repo.listAuditEntries(deps.db, filter, at.limit, at.offset), at };
}

/** Every entry the filter selects, newest first, one at a time (the CSV export streams them). */
export function iterateAuditEntries(deps: { db: Db }, filter: AuditFilter): Generator<AuditRow> {
  return repo.iterateAuditEntries(deps.db, filter);
}

/** The actions that occur in the log (one company's, or every company's), for the filter. */
export function listAuditActions(deps: { db: Db }, companyId?: number): string[] {
  return repo.listAuditActions(deps.db, companyId);
}

/** Entries older than `cutoff`: counted (dryRun) or deleted. */
export function pruneAuditEntries(deps: { db: Db }, cutoff: number, dryRun: boolean): number {
  return dryRun ? repo.countAuditEntriesBefore(deps.db, cutoff) : repo.deleteAuditEntriesBefore(deps.db, cutoff);
}
