import type { Clock } from '../clock';
import { MINUTE } from '../clock';
import type { Database } from '../db/connect';
import { blockedFor, countAttempt, deleteWindowsStartedBefore, windowReader } from '../http/throttle-repo';
import type { ThrottleWindow } from '../http/throttle-repo';

export interface FailureLimits {
  perSource: number;
  windowMs: number;
}

/**
 * Failed authentication on the platform API, counted per source address only (the client address
 * the trusted proxy gives, see TRUST_PROXY). Past the limit, that address is refused until the
 * window ends. Counted in the database (throttle_windows), so every replica counts into the same
 * window and an attacker gains nothing by spreading guesses over them; each request reads its
 * source's window once (one primary-key read, compiled once). Ended windows are deleted now and then,
 * so a flood of addresses does not pile up rows.
 *
 * Only guesses count: a malformed or bad-checksum secret, or a well-formed one we never issued. A
 * secret that matches a credential that stopped working (replaced, revoked, expired), and a genuine
 * token that expired or was revoked, are not failed authentications. Nothing is counted per API
 * username or Client ID: those are public, and a per-identifier limit let any stranger lock the real
 * holder out (secrets carry ~178 bits, so guessing is not the threat).
 */
export class AuthFailures {
  private readonly findWindow: (key: string) => Promise<ThrottleWindow | undefined>;
  private lastPrune = 0;

  constructor(
    private db: Database,
    private clock: Clock,
    private limits: FailureLimits = { perSource: 30, windowMs: MINUTE },
  ) {
    this.findWindow = windowReader(db);
  }

  /** Seconds this source must wait; 0 when it is not blocked. */
  async retryAfter(source: string): Promise<number> {
    const window = await this.findWindow(keyOf(source));
    return Math.ceil(blockedFor(window, this.limits.perSource, this.limits.windowMs, this.clock.now()) / 1000);
  }

  async record(source: string): Promise<void> {
    const now = this.clock.now();
    await countAttempt(this.db, keyOf(source), now, this.limits.windowMs);
    if (now - this.lastPrune >= this.limits.windowMs) {
      this.lastPrune = now;
      await deleteWindowsStartedBefore(this.db, KEY_PREFIX, now - this.limits.windowMs);
    }
  }
}

/** The platform API's windows among the other throttles' in throttle_windows. */
const KEY_PREFIX = 'platform-api:';
const keyOf = (source: string): string => `${KEY_PREFIX}source:${source}`;
