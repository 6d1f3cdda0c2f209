import type { Db } from '../../db/open';
import type { Clock } from '../../clock';
import { insertAuditEntry } from './repo';

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
    insertAuditEntry(this.db, {
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
