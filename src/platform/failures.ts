import type { Clock } from '../clock';
import { MINUTE } from '../clock';
import type { Database } from '../db/connect';
import { blockedFor, countAttempt, deleteWindowsStartedBefore, windowReader } from '../http/throttle-repo';
import type { ThrottleWindow } from '../http/throttle-repo';
import type { ThrottleGate } from '../features/credentials/verify';

export interface FailureLimits {
  perSource: number;
  windowMs: number;
}

/**
 * Failed authentication on the platform API, counted per source address only (the client address
 * the trusted proxy gives, see TRUST_PROXY). Past the limit, that address is refused until the
 * window ends. Counted in the database (throttle_windows), so every replica counts into the same
 * window and an attacker gains nothing by spreading guesses over them. Each request reads its
 * source's window once, in the same query as the credential or token state it checks (`gate`,
 * `windowKey`); only a refused request reads it on its own. Ended windows are deleted now and then,
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
    return this.waitFor(await this.findWindow(keyOf(source)));
  }

  /** The key of a source's window, for a query that reads it along with what it checks. */
  windowKey(source: string): string {
    return keyOf(source);
  }

  /** Seconds a window read along (see windowKey) makes its source wait; 0 when it does not block. */
  waitFor(window: Pick<ThrottleWindow, 'windowStart' | 'count'> | undefined): number {
    return Math.ceil(blockedFor(window, this.limits.perSource, this.limits.windowMs, this.clock.now()) / 1000);
  }

  /** The throttle as the credential check reads it: the window's key and how long it blocks. */
  gate(source: string): ThrottleGate {
    return { windowKey: keyOf(source), retryAfter: (window) => this.waitFor(window) };
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
