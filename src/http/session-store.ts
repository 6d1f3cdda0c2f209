import type { Request } from 'express';
import session from 'express-session';
import type { Database } from '../db/connect';
import type { Clock } from '../clock';
import { sha256 } from '../crypto';
import { createSessionQueries } from '../features/auth/repo';
import type { SessionQueries } from '../features/auth/repo';

/** Rows are keyed by SHA-256 of the session id (Lucia's habit): a reader of the database cannot use one. */
const key = (sid: string): string => sha256(sid).toString('base64url');

const PRUNE_EVERY_MS = 10 * 60 * 1000;

/** Runs the store's async work and answers express-session's callback with its outcome. */
function settle<T>(work: Promise<T>, callback: ((err: unknown, value?: T) => void) | undefined): void {
  work.then(
    (value) => callback?.(null, value),
    (err: unknown) => callback?.(err),
  );
}

/**
 * express-session store in the database (either engine), so sessions survive restarts, are shared by
 * replicas and can be ended per user.
 *
 * A deleted session stays deleted: a password reset, a disabled user or a sign-out elsewhere
 * deletes rows while other requests of that session may be in flight, and their save at the end
 * must not bring the row back. So `set` inserts only a session this process started (never
 * stored yet: a new id after `regenerate`), and otherwise updates a row that still exists.
 */
export class DatabaseSessionStore extends session.Store {
  private sessions: SessionQueries;
  private lastPrune = 0;
  /** Session objects that came from, or went to, the database: saving them only ever updates. */
  private stored = new WeakSet<object>();

  constructor(
    db: Database,
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
  private async expiry(): Promise<number> {
    const now = this.clock.now();
    // Expired rows are deleted now and then, so abandoned sessions do not pile up.
    if (now - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = now;
      await this.sessions.deleteExpiredSessions(now);
    }
    return now + this.idleMs;
  }

  override get(sid: string, callback: (err: unknown, session?: session.SessionData | null) => void): void {
    settle(
      this.sessions.findSessionData(key(sid), this.clock.now()).then((data) => (data ? (JSON.parse(data) as session.SessionData) : null)),
      callback,
    );
  }

  /** express-session builds every loaded session here (on each request and on reload). */
  override createSession(req: Request, data: session.SessionData): session.Session & session.SessionData {
    const loaded = super.createSession(req, data);
    this.stored.add(loaded);
    return loaded;
  }

  override set(sid: string, sess: session.SessionData, callback?: (err?: unknown) => void): void {
    settle(this.save(sid, sess), callback);
  }

  private async save(sid: string, sess: session.SessionData): Promise<void> {
    const userId = sess.userId ?? null;
    const data = JSON.stringify(sess);
    if (this.stored.has(sess)) {
      // No row (deleted meanwhile, or expired): nothing is written, and the cookie signs nobody in.
      await this.sessions.updateLiveSession(key(sid), userId, data, await this.expiry(), this.clock.now());
    } else {
      // Marked before the insert finishes: a second save of the same object while it runs must update, not insert again.
      this.stored.add(sess);
      await this.sessions.insertSession(key(sid), userId, data, await this.expiry());
    }
  }

  override touch(sid: string, _sess: session.SessionData, callback?: (err?: unknown) => void): void {
    settle(
      this.expiry().then((expiresAt) => this.sessions.touchLiveSession(key(sid), expiresAt, this.clock.now())),
      callback,
    );
  }

  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    settle(this.sessions.deleteSession(key(sid)), callback);
  }
}
