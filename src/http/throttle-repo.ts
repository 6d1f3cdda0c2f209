import { sql } from 'kysely';
import type { Database } from '../db/connect';
import { preparedRead } from '../db/prepared';

/**
 * Failure throttles' fixed windows (table throttle_windows), shared by every replica: the sign-in
 * throttle (auth) and the platform API's failed-authentication throttle count here. A key names the
 * throttle and what it counts, e.g. 'sign-in:ip:203.0.113.9'. A window lasts windowMs from its first
 * attempt; once it has ended, the next attempt starts a new one.
 */
export interface ThrottleWindow {
  key: string;
  windowStart: number;
  count: number;
}

/**
 * Counts one attempt for `key` and returns its window afterwards, in one statement on both engines: a new
 * window when there is none or the old one ended (started more than windowMs before now), else one more.
 */
export async function countAttempt(db: Database, key: string, now: number, windowMs: number): Promise<ThrottleWindow> {
  // In ON CONFLICT's SET, throttle_windows.* is the row before this update on both engines.
  const ended = sql<boolean>`throttle_windows.window_start < ${now - windowMs}`;
  const row = await db
    .insertInto('throttle_windows')
    .values({ key, window_start: now, count: 1 })
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        window_start: sql<number>`case when ${ended} then excluded.window_start else throttle_windows.window_start end`,
        count: sql<number>`case when ${ended} then 1 else throttle_windows.count + 1 end`,
      }),
    )
    .returning(['key', 'window_start as windowStart', 'count'])
    .executeTakeFirstOrThrow();
  return row;
}

/** The windows these keys have (ended ones included: the caller judges them with blockedFor). */
export async function findWindows(db: Database, keys: string[]): Promise<ThrottleWindow[]> {
  if (keys.length === 0) return [];
  return db.selectFrom('throttle_windows').select(['key', 'window_start as windowStart', 'count']).where('key', 'in', keys).execute();
}

/** Gives back one counted attempt (it turned out to succeed); never below zero. */
export async function releaseAttempt(db: Database, key: string): Promise<void> {
  await db
    .updateTable('throttle_windows')
    .set({ count: sql<number>`case when count > 0 then count - 1 else 0 end` })
    .where('key', '=', key)
    .execute();
}

/** Forgets the key's window (the account signed in: it starts afresh). */
export async function deleteWindow(db: Database, key: string): Promise<void> {
  await db.deleteFrom('throttle_windows').where('key', '=', key).execute();
}

/**
 * Deletes the windows of one throttle (keys starting with `keyPrefix`, e.g. 'sign-in:') that started
 * before `before` (now minus that throttle's window: they have ended); returns how many.
 */
export async function deleteWindowsStartedBefore(db: Database, keyPrefix: string, before: number): Promise<number> {
  const result = await db
    .deleteFrom('throttle_windows')
    .where(sql<string>`substr(key, 1, ${keyPrefix.length})`, '=', keyPrefix) // not LIKE: a prefix's _ or % would be a wildcard
    .where('window_start', '<', before)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * Milliseconds this window still blocks its key: while the window lasts and holds `limit` or more
 * attempts, until it ends; otherwise 0.
 */
export function blockedFor(window: Pick<ThrottleWindow, 'windowStart' | 'count'> | undefined, limit: number, windowMs: number, now: number): number {
  if (!window || window.count < limit) return 0;
  return Math.max(0, window.windowStart + windowMs - now);
}

/**
 * findWindows for one key, compiled once: for throttles asked on every request (the platform API checks
 * its source's window before each authentication), where building the query each time would cost more
 * than running it.
 */
export function windowReader(db: Database): (key: string) => Promise<ThrottleWindow | undefined> {
  const KEY = '\u0000key';
  const find = preparedRead(db, db.selectFrom('throttle_windows').select(['key', 'window_start as windowStart', 'count']).where('key', '=', KEY), [KEY]);
  return async (key) => (await find(key))[0];
}
