import type { Clock } from '../clock';
import { MINUTE } from '../clock';
import { FailureThrottle } from '../http/throttle';

export interface FailureLimits {
  perSource: number;
  windowMs: number;
}

/**
 * Failed authentication on the platform API, counted per source address only (the client address
 * the trusted proxy gives, see TRUST_PROXY). Past the limit, that address is refused until the
 * window ends. Bounded (FailureThrottle drops old keys), so a flood of addresses cannot grow memory.
 *
 * Only guesses count: a malformed or bad-checksum secret, or a well-formed one we never issued. A
 * secret that matches a credential that stopped working (replaced, revoked, expired), and a genuine
 * token that expired or was revoked, are not failed authentications. Nothing is counted per API
 * username or Client ID: those are public, and a per-identifier limit let any stranger lock the real
 * holder out (secrets carry ~178 bits, so guessing is not the threat).
 */
export class AuthFailures {
  private readonly bySource: FailureThrottle;

  constructor(clock: Clock, limits: FailureLimits = { perSource: 30, windowMs: MINUTE }) {
    this.bySource = new FailureThrottle(clock, limits.perSource, limits.windowMs, 50_000);
  }

  /** Seconds this source must wait; 0 when it is not blocked. */
  retryAfter(source: string): number {
    return this.bySource.retryAfter([source]);
  }

  record(source: string): void {
    this.bySource.recordFailure([source]);
  }
}
