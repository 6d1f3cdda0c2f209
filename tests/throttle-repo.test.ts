import { MINUTE } from '../src/clock';
import { blockedFor, countAttempt, deleteWindow, deleteWindowsStartedBefore, findWindows, releaseAttempt } from '../src/http/throttle-repo';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openTestDatabase } from './helpers';
import type { Database } from '../src/db/connect';

// The database alone, without the app: the repo needs nothing else, and so this runs on PostgreSQL too.
function openDatabaseOnly(): { database: Database; openAnother: () => ReturnType<ReturnType<typeof openTestDatabase>['another']>; close: () => Promise<void> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-throttle-'));
  const { connection, another, drop } = openTestDatabase(path.join(dir, 'console.sqlite'));
  return {
    database: connection.db,
    openAnother: another,
    close: async () => {
      await connection.close();
      drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('throttle windows (src/http/throttle-repo.ts)', () => {
  let ctx: ReturnType<typeof openDatabaseOnly>;
  const start = Date.UTC(2026, 10, 1, 9, 0, 0);
  beforeEach(() => {
    ctx = openDatabaseOnly();
  });
  afterEach(() => ctx.close());

  it('counts attempts into one window and starts a new one once it has ended', async () => {
    expect(await countAttempt(ctx.database, 'k', start, 15 * MINUTE)).toEqual({ key: 'k', windowStart: start, count: 1 });
    expect(await countAttempt(ctx.database, 'k', start + MINUTE, 15 * MINUTE)).toEqual({ key: 'k', windowStart: start, count: 2 });
    expect(await countAttempt(ctx.database, 'k', start + 15 * MINUTE, 15 * MINUTE)).toEqual({ key: 'k', windowStart: start, count: 3 });
    expect(await countAttempt(ctx.database, 'k', start + 15 * MINUTE + 1, 15 * MINUTE)).toEqual({ key: 'k', windowStart: start + 15 * MINUTE + 1, count: 1 });
    expect(await countAttempt(ctx.database, 'other', start, 15 * MINUTE)).toEqual({ key: 'other', windowStart: start, count: 1 });
  });

  it('counts parallel attempts from two connections, as two replicas would, without losing one', async () => {
    const another = ctx.openAnother();
    try {
      await Promise.all(Array.from({ length: 20 }, (_, i) => countAttempt(i % 2 ? another.db : ctx.database, 'k', start, MINUTE)));
      expect(await findWindows(ctx.database, ['k'])).toEqual([{ key: 'k', windowStart: start, count: 20 }]);
    } finally {
      await another.close();
    }
  });

  it('gives an attempt back without going below zero, and forgets a window', async () => {
    await countAttempt(ctx.database, 'k', start, MINUTE);
    await releaseAttempt(ctx.database, 'k');
    await releaseAttempt(ctx.database, 'k');
    expect(await findWindows(ctx.database, ['k', 'missing'])).toEqual([{ key: 'k', windowStart: start, count: 0 }]);
    await deleteWindow(ctx.database, 'k');
    expect(await findWindows(ctx.database, ['k'])).toEqual([]);
  });

  it("deletes one throttle's windows that started before a time", async () => {
    await countAttempt(ctx.database, 'a_b:old', start, MINUTE);
    await countAttempt(ctx.database, 'a_b:new', start + MINUTE, MINUTE);
    await countAttempt(ctx.database, 'axb:old', start, MINUTE);
    expect(await deleteWindowsStartedBefore(ctx.database, 'a_b:', start + MINUTE)).toBe(1);
    expect((await findWindows(ctx.database, ['a_b:old', 'a_b:new', 'axb:old'])).map((w) => w.key).sort()).toEqual(['a_b:new', 'axb:old']);
  });

  it('blocks a key at the limit until its window ends', () => {
    expect(blockedFor(undefined, 5, 15 * MINUTE, start)).toBe(0);
    expect(blockedFor({ windowStart: start, count: 4 }, 5, 15 * MINUTE, start)).toBe(0);
    expect(blockedFor({ windowStart: start, count: 5 }, 5, 15 * MINUTE, start + 10 * MINUTE)).toBe(5 * MINUTE);
    expect(blockedFor({ windowStart: start, count: 9 }, 5, 15 * MINUTE, start + 15 * MINUTE)).toBe(0);
  });
});
