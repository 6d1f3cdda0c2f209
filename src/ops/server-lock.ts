import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * "A server is using this data directory": each server process writes DATA_DIR/server-<host>-<pid>.lock
 * at start, touches it every few seconds, and removes it at shutdown. `restore` refuses while one is live.
 *
 * After a SIGKILL the file stays behind, so liveness is checked, not assumed: on the same host the pid
 * must still exist; from another host (a one-off container sharing the volume) the heartbeat must be
 * recent. Several servers may share one database file, hence one file per process.
 */
export const HEARTBEAT_MS = 5_000;
const STALE_AFTER_MS = 3 * HEARTBEAT_MS;
const LOCK_NAME = /^server-(.+)-(\d+)\.lock$/;

export interface LockInfo {
  file: string;
  pid: number;
  hostname: string;
  startedAt: number;
  heartbeatAgeMs: number;
}

export interface ServerLock {
  file: string;
  release(): void;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

function readLock(file: string, now: number): LockInfo | undefined {
  try {
    const body = JSON.parse(fs.readFileSync(file, 'utf8')) as { pid?: unknown; hostname?: unknown; startedAt?: unknown };
    if (typeof body.pid !== 'number' || typeof body.hostname !== 'string') return undefined;
    return {
      file,
      pid: body.pid,
      hostname: body.hostname,
      startedAt: typeof body.startedAt === 'number' ? body.startedAt : 0,
      heartbeatAgeMs: now - fs.statSync(file).mtimeMs,
    };
  } catch {
    return undefined; // removed meanwhile, or not one of ours
  }
}

/**
 * The heartbeat decides. A dead pid on this host only spots a crashed server sooner; it cannot prove
 * a server alive, because containers sharing a host name number their processes from 1 each.
 */
function isLive(lock: LockInfo): boolean {
  if (lock.hostname === os.hostname() && lock.pid !== process.pid && !pidAlive(lock.pid)) return false;
  return lock.heartbeatAgeMs < STALE_AFTER_MS;
}

/** The servers that are using `dataDir` right now (stale files left by a crash are ignored). */
export function findRunningServers(dataDir: string, now = Date.now()): LockInfo[] {
  let names: string[];
  try {
    names = fs.readdirSync(dataDir);
  } catch {
    return [];
  }
  return names
    .filter((name) => LOCK_NAME.test(name))
    .map((name) => readLock(path.join(dataDir, name), now))
    .filter((lock): lock is LockInfo => lock !== undefined && isLive(lock));
}

/** Called by the server at start: writes this process's lock file, keeps it fresh, removes stale ones of this host. */
export function acquireServerLock(dataDir: string, heartbeatMs = HEARTBEAT_MS): ServerLock {
  fs.mkdirSync(dataDir, { recursive: true });
  const now = Date.now();
  for (const name of fs.readdirSync(dataDir).filter((n) => LOCK_NAME.test(n))) {
    const lock = readLock(path.join(dataDir, name), now);
    if (lock && !isLive(lock) && lock.heartbeatAgeMs >= STALE_AFTER_MS) fs.rmSync(lock.file, { force: true });
  }
  const file = path.join(dataDir, `server-${os.hostname()}-${process.pid}.lock`);
  fs.writeFileSync(file, JSON.stringify({ pid: process.pid, hostname: os.hostname(), startedAt: now }), { mode: 0o644 });
  const timer = setInterval(() => {
    const t = new Date();
    try {
      fs.utimesSync(file, t, t);
    } catch {
      // The data directory went away; the server's own database errors will say so.
    }
  }, heartbeatMs);
  timer.unref();
  return {
    file,
    release() {
      clearInterval(timer);
      fs.rmSync(file, { force: true });
    },
  };
}
