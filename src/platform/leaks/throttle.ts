import type { Clock } from '../../clock';
import { MINUTE } from '../../clock';
import type { Database } from '../../db/connect';
import { blockedFor, countAttempt, deleteWindowsStartedBefore } from '../../http/throttle-repo';

export interface LeakReportLimits {
  perSource: number;
  windowMs: number;
}

const KEY_PREFIX = 'leak-report:';

/**
 * Leak reports per source address (the client address TRUST_PROXY gives), counted in throttle_windows
 * so replicas count together. Every report counts, valid or not: the endpoint is public, and each
 * report costs up to 100 digests and a lookup. A scanner with many findings sends them 100 at a time.
 */
export class LeakReportThrottle {
  private lastPrune = 0;

  constructor(
    private db: Database,
    private clock: Clock,
    readonly limits: LeakReportLimits = { perSource: 10, windowMs: MINUTE },
  ) {}

  /** Counts this report; the seconds the source must wait when it is over the limit (0: go on). */
  async admit(source: string): Promise<number> {
    const now = this.clock.now();
    const window = await countAttempt(this.db, `${KEY_PREFIX}source:${source}`, now, this.limits.windowMs);
    if (now - this.lastPrune >= this.limits.windowMs) {
      this.lastPrune = now;
      await deleteWindowsStartedBefore(this.db, KEY_PREFIX, now - this.limits.windowMs);
    }
    // The window already holds this report: over the limit once it holds more than perSource.
    return Math.ceil(blockedFor({ ...window, count: window.count - 1 }, this.limits.perSource, this.limits.windowMs, now) / 1000);
  }
}
