import fs from 'node:fs';
import type { Config } from './config';
import { sessionSecretFile } from './config';
import type { Logger } from './log';

/**
 * DATA_DIR holds the database (password hashes, the sealed signing key, audit trail), the session
 * secret and, while a server runs, its lock file. None of it is for other local users: the server
 * and the CLI set this umask before they touch DATA_DIR, so what they create is 0700 (directories)
 * or 0600 (files). SQLite gives -wal and -shm the database file's own mode, so those follow.
 */
export const PRIVATE_UMASK = 0o077;

export function restrictNewFiles(): void {
  process.umask(PRIVATE_UMASK);
}

const octal = (mode: number): string => `0${(mode & 0o777).toString(8)}`;

/** A path as a shell argument (quoted only when it needs it), for the command the warning suggests. */
const shellArg = (p: string): string => (/^[\w@%+=:,./-]+$/.test(p) ? p : `'${p.replace(/'/g, `'\\''`)}'`);

/**
 * At server start: creates DATA_DIR (0700) when missing. An existing one that other users may enter
 * is left as the operator made it (a backup agent may rely on it) but warned about once, with the
 * fix. The console's own files that an older version left readable (0644) become 0600: before the
 * database opens, so a new -wal and -shm take the tightened mode.
 */
export function secureDataDir(config: Pick<Config, 'dataDir' | 'databaseFile'>, logger: Logger): void {
  const { dataDir, databaseFile } = config;
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const mode = fs.statSync(dataDir).mode & 0o777;
  if (mode & 0o077) {
    logger.warn(
      { dataDir, mode: octal(mode) },
      `DATA_DIR ${dataDir} has mode ${octal(mode)}: other local users can read the database and the session secret in it. Restrict it to the console's user with: chmod 700 ${shellArg(dataDir)}`,
    );
  }
  for (const file of [databaseFile, `${databaseFile}-wal`, `${databaseFile}-shm`, sessionSecretFile(dataDir)]) tightenFile(file);
}

function tightenFile(file: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return; // not there (yet)
  }
  // Only our own files: chmod on another user's would fail, and the directory warning covers them.
  if (stat.isFile() && stat.mode & 0o077 && stat.uid === process.getuid?.()) fs.chmodSync(file, 0o600);
}
