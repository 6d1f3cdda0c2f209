import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { OpsError } from './errors';

/**
 * PostgreSQL's own client programs (pg_dump, pg_restore), for backup and restore on PostgreSQL: they know
 * every object type and the server's format, which no copy of ours would.
 */
export type PostgresTool = 'pg_dump' | 'pg_restore';

const SERVER_BINS = '/usr/lib/postgresql';

/** The program on PATH, else the newest in /usr/lib/postgresql/<version>/bin (Debian installs it there). */
export function findPostgresTool(tool: PostgresTool, env: NodeJS.ProcessEnv = process.env): string {
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, tool);
    if (isExecutable(candidate)) return candidate;
  }
  const versions = fs.existsSync(SERVER_BINS) ? fs.readdirSync(SERVER_BINS).filter((v) => isExecutable(path.join(SERVER_BINS, v, 'bin', tool))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (!versions.length) {
    throw new OpsError(
      `${tool} was not found on PATH nor in ${SERVER_BINS}/*/bin. Install PostgreSQL's client programs (e.g. apt-get install postgresql-client).`,
    );
  }
  return path.join(SERVER_BINS, versions[0], 'bin', tool);
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The connection for a client program: the URL without its password (the command line is visible to
 * every user of the host, in ps), and the password in PGPASSWORD, where only the program sees it.
 */
export function clientConnection(databaseUrl: string, env: NodeJS.ProcessEnv = process.env): { dbname: string; env: NodeJS.ProcessEnv } {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    return { dbname: databaseUrl, env }; // a form URL cannot parse; libpq reads it as given
  }
  const password = decodeURIComponent(url.password);
  url.password = '';
  return { dbname: url.toString(), env: password ? { ...env, PGPASSWORD: password } : env };
}

/** Runs a client program; its standard output on success, an OpsError with what it said otherwise. */
export function runPostgresTool(tool: PostgresTool, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const program = findPostgresTool(tool, env);
  return new Promise((resolve, reject) => {
    execFile(program, args, { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const said = stderr.trim() || err.message;
      reject(new OpsError(`${tool} failed: ${said}`));
    });
  });
}
