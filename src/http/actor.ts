import type { Request } from 'express';
import type { Actor } from '../features/audit/service';

/** The audit actor for a request: the signed-in user (or anonymous), the source address and browser. */
export function actorFrom(req: Request, label?: string): Actor {
  return {
    userId: req.user?.id ?? null,
    label: label ?? req.user?.email ?? 'anonymous',
    ip: req.ip ?? null,
    userAgent: req.get('User-Agent') ?? null,
  };
}
