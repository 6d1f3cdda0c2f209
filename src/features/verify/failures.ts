import type { Clock } from '../../clock';
import { MINUTE } from '../../clock';
import { FailureThrottle } from '../../http/throttle';

export interface FailureLimits {
  perSource: number;
  perIdentifier: number;
  windowMs: number;
}

/**
 * Failed authentication on the platform API, counted per source address and per identifier (API
 * username or Client ID). Past either limit, further attempts are refused until the window ends.
 * Both maps are bounded (FailureThrottle drops old keys), so a flood of made-up names cannot grow memory.
 * Only guesses count: a genuine token that expired or was revoked is not a failed authentication.
 */
export class AuthFailures {
  private readonly bySource: FailureThrottle;
  private readonly byIdentifier: FailureThrottle;

  constructor(clock: Clock, limits: FailureLimits = { perSource: 30, perIdentifier: 10, windowMs: MINUTE }) {
    this.bySource = new FailureThrottle(clock, limits.perSource, limits.windowMs, 50_000);
    this.byIdentifier = new FailureThrottle(clock, limits.perIdentifier, limits.windowMs, 50_000);
  }

  /** Seconds to wait; 0 when neither the source nor the identifier is blocked. */
  retryAfter(source: string, identifier?: string): number {
    const bySource = this.bySource.retryAfter([source]);
    if (identifier === undefined) return bySource;
    return Math.max(bySource, this.byIdentifier.retryAfter([identifier.slice(0, 128)]));
  }

  record(source: string, identifier?: string): void {
    this.bySource.recordFailure([source]);
    if (identifier !== undefined) this.byIdentifier.recordFailure([identifier.slice(0, 128)]);
  }
}
