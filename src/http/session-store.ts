import type { Request } from 'express';
import session from 'express-session';
import type { Db } from '../db/open';
import type { Clock } from '../clock';
import { sha256 } from '../crypto';
import { createSessionQueries } from '../features/auth/repo';
import type { SessionQueries } from '../features/auth/repo';

/** Rows are keyed by SHA-256 of the session id (Lucia's habit): a reader of the database cannot use one. */
const key = (sid: string): string => sha256(sid).toString('base64url');

const PRUNE_EVERY_MS = 10 * 60 * 1000;

/**
 * express-session store in the SQLite file, so sessions survive restarts and can be ended per user.
 *
 * A deleted session stays deleted: a password reset, a disabled user or a sign-out elsewhere
 * deletes rows while other requests of that session may be in flight, and their save at the end
 * must not bring the row back. So `set` inserts only a session this process started (never
 * stored yet: a new id after `regenerate`), and otherwise updates a row that still exists.
 */
export class SqliteSessionStore extends session.Store {
  private sessions: SessionQueries;
  private lastPrune = 0;
  /** Session objects that came from, or went to, the database: saving them only ever updates. */
  private stored = new WeakSet<object>();

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

  /** express-session builds every loaded session here (on each request and on reload). */
  override createSession(req: Request, data: session.SessionData): session.Session & session.SessionData {
    const loaded = super.createSession(req, data);
    this.stored.add(loaded);
    return loaded;
  }

  override set(sid: string, sess: session.SessionData, callback?: (err?: unknown) => void): void {
    try {
      const userId = sess.userId ?? null;
      const data = JSON.stringify(sess);
      if (this.stored.has(sess)) {
        // No row (deleted meanwhile, or expired): nothing is written, and the cookie signs nobody in.
        this.sessions.updateLiveSession(key(sid), userId, data, this.expiry(), this.clock.now());
      } else {
        this.sessions.insertSession(key(sid), userId, data, this.expiry());
        this.stored.add(sess);
      }
      callback?.();
    } catch (err) {
      callback?.(err);
    }
  }

  override touch(sid: string, _sess: session.SessionData, callback?: (err?: unknown) => void): void {
    try {
      this.sessions.touchLiveSession(key(sid), this.expiry(), this.clock.now());
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
}
