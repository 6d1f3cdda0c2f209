import session from 'express-session';
import type { Db } from '../db/open';
import type { Clock } from '../clock';
import { sha256 } from '../crypto';
import { createSessionQueries } from '../features/auth/repo';
import type { SessionQueries } from '../features/auth/repo';

/** Rows are keyed by SHA-256 of the session id (Lucia's habit): a reader of the database cannot use one. */
const key = (sid: string): string => sha256(sid).toString('base64url');

const PRUNE_EVERY_MS = 10 * 60 * 1000;

/** express-session store in the SQLite file, so sessions survive restarts and can be ended per user. */
export class SqliteSessionStore extends session.Store {
  private sessions: SessionQueries;
  private lastPrune = 0;

  constructor(
    db: Db,
    private clock: Clock,
    private idleMs: number,
  ) {
    super();
    this.sessions = createSessionQueries(db);
  }

  /**
   * The idle timeout is the store's: every request touches the session, and one untouched for
   * idleMs is gone. It is measured on the injected clock, never on the cookie's expiry (which
   * express-session computes from the wall clock), so both agree in production and tests can move time.
   */
  private expiry(): number {
    const now = this.clock.now();
    // Expired rows are deleted now and then, so abandoned sessions do not pile up.
    if (now - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = now;
      this.sessions.deleteExpiredSessions(now);
    }
    return now + this.idleMs;
  }

  override get(sid: string, callback: (err: unknown, session?: session.SessionData | null) => void): void {
    try {
      const data = this.sessions.findSessionData(key(sid), this.clock.now());
      callback(null, data ? (JSON.parse(data) as session.SessionData) : null);
    } catch (err) {
      callback(err);
    }
  }

  override set(sid: string, sess: session.SessionData, callback?: (err?: unknown) => void): void {
    try {
      this.sessions.upsertSession(key(sid), sess.userId ?? null, JSON.stringify(sess), this.expiry());
      callback?.();
    } catch (err) {
      callback?.(err);
    }
  }

  override touch(sid: string, sess: session.SessionData, callback?: (err?: unknown) => void): void {
    try {
      this.sessions.touchSession(key(sid), this.expiry());
      callback?.();
    } catch (err) {
      callback?.(err);
    }
  }

  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    try {
      this.sessions.deleteSession(key(sid));
      callback?.();
    } catch (err) {
      callback?.(err);
    }
  }

  prune(): number {
    return this.sessions.deleteExpiredSessions(this.clock.now());
  }
}
