import type { Clock } from '../clock';

interface Window {
  failures: number;
  startedAt: number;
  blockedUntil: number;
}

/**
 * Counts failed attempts per key (a source address, an account) in a fixed window; past the limit
 * the key is blocked until the window ends. In memory: a restart forgives. Callers that do slow work
 * (bcrypt) count the attempt before it and release it on success, so parallel attempts cannot all
 * pass the check before the first one is counted.
 */
export class FailureThrottle {
  private windows = new Map<string, Window>();

  constructor(
    private clock: Clock,
    private limit: number,
    private windowMs: number,
    private maxKeys = 100_000,
  ) {}

  /** Seconds to wait before any of these keys may try again; 0 when none is blocked. */
  retryAfter(keys: string[]): number {
    const now = this.clock.now();
    let wait = 0;
    for (const key of keys) {
      const w = this.windows.get(key);
      if (w && w.blockedUntil > now) wait = Math.max(wait, (w.blockedUntil - now) / 1000);
    }
    return Math.ceil(wait);
  }

  recordFailure(keys: string[]): void {
    const now = this.clock.now();
    for (const key of keys) {
      let w = this.windows.get(key);
      if (!w || now - w.startedAt > this.windowMs) {
        if (this.windows.size >= this.maxKeys) this.prune(now);
        w = { failures: 0, startedAt: now, blockedUntil: 0 };
        this.windows.set(key, w);
      }
      w.failures += 1;
      if (w.failures >= this.limit) w.blockedUntil = w.startedAt + this.windowMs;
    }
  }

  /** Gives back one attempt counted by recordFailure (it turned out to succeed); unblocks below the limit. */
  release(key: string): void {
    const w = this.windows.get(key);
    if (!w) return;
    w.failures = Math.max(0, w.failures - 1);
    if (w.failures < this.limit) w.blockedUntil = 0;
  }

  reset(key: string): void {
    this.windows.delete(key);
  }

  private prune(now: number): void {
    for (const [key, w] of this.windows) {
      if (now - w.startedAt > this.windowMs && w.blockedUntil <= now) this.windows.delete(key);
    }
    // Still full (an attack with many keys): forget the oldest half rather than grow without bound.
    if (this.windows.size >= this.maxKeys) {
      let drop = Math.floor(this.windows.size / 2);
      for (const key of this.windows.keys()) {
        if (drop-- <= 0) break;
        this.windows.delete(key);
      }
    }
  }
}
