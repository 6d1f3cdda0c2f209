import session from 'express-session';
import type { Db } from '../db/open';
import type { Clock } from '../clock';
import { sha256 } from '../crypto';

/** Rows are keyed by SHA-256 of the session id (Lucia's habit): a reader of the database cannot use one. */
const key = (sid: string): string => sha256(sid).toString('base64url');

const PRUNE_EVERY_MS = 10 * 60 * 1000;

/** express-session store in the SQLite file, so sessions survive restarts and can be ended per user. */
export class SqliteSessionStore extends session.Store {
  private statements;
  private lastPrune = 0;

  constructor(
    db: Db,
    private clock: Clock,
    private idleMs: number,
  ) {
    super();
    this.statements = {
      get: db.prepare('SELECT data FROM sessions WHERE sid = ? AND expires_at > ?').pluck(),
      set: db.prepare(
        `INSERT INTO sessions (sid, user_id, data, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(sid) DO UPDATE SET user_id = excluded.user_id, data = excluded.data, expires_at = excluded.expires_at`,
      ),
      touch: db.prepare('UPDATE sessions SET expires_at = ? WHERE sid = ?'),
      destroy: db.prepare('DELETE FROM sessions WHERE sid = ?'),
      prune: db.prepare('DELETE FROM sessions WHERE expires_at <= ?'),
    };
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
      this.statements.prune.run(now);
    }
    return now + this.idleMs;
  }

  override get(sid: string, callback: (err: unknown, session?: session.SessionData | null) => void): void {
    try {
      const data = this.statements.get.get(key(sid), this.clock.now()) as string | undefined;
      callback(null, data ? (JSON.parse(data) as session.SessionData) : null);
    } catch (err) {
      callback(err);
    }
  }

  override set(sid: string, sess: session.SessionData, callback?: (err?: unknown) => void): void {
    try {
      this.statements.set.run(key(sid), sess.userId ?? null, JSON.stringify(sess), this.expiry());
      callback?.();
    } catch (err) {
      callback?.(err);
    }
  }

  override touch(sid: string, _sess: session.SessionData, callback?: (err?: unknown) => void): void {
    try {
      this.statements.touch.run(this.expiry(), key(sid));
      callback?.();
    } catch (err) {
      callback?.(err);
    }
  }

  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    try {
      this.statements.destroy.run(key(sid));
      callback?.();
    } catch (err) {
      callback?.(err);
    }
  }
}
