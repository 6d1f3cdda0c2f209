import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { systemClock } from '../clock';
import type { Config } from '../config';
import { ConfigError, describeDatabase, loadConfig } from '../config';
import { connect } from '../db/connect';
import type { Connection } from '../db/connect';
import { migrate } from '../db/migrate';
import type { CliCommand } from '../cli/command';
import { EXIT } from '../cli/command';
import { emailField, newPasswordField } from '../features/auth/schema';
import { backupDatabase, backupPostgres } from './backup';
import { createOperator } from './create-operator';
import { OpsError, UsageError } from './errors';
import { DEFAULT_GENERATIONS_DAYS, prune } from './prune';
import { resetPassword } from './reset-password';
import { resetFactors } from './reset-factors';
import { OutboxMailer } from '../features/mail/service';
import { smtpTransport } from '../features/mail/smtp';
import { createLogger } from '../log';
import { restoreDatabase, restorePostgres } from './restore';

/** What a command may touch: its output streams, standard input and the environment (tests pass their own). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  readStdin(): Promise<string>;
  stdinIsTty: boolean;
  env: NodeJS.ProcessEnv;
}

/** An operations command; `cliCommand()` adapts it to the dispatcher in src/cli.ts. */
export interface OpsCommand {
  name: string;
  summary: string;
  /** The arguments, as `<name> --help` shows them after the name. */
  usage: string;
  /** What it does, for `<name> --help`. */
  details: string;
  /** Returns the exit code (src/cli/command.ts): ok, failure (refused or failed), usage (bad arguments), config. */
  run(args: string[], io: CliIo): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

interface Parsed {
  help: boolean;
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

function parse(args: string[], options: Options, positionals: { min: number; max: number; names: string }): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, '.'));
  }
  const values = parsed.values as Parsed['values'];
  if (values.help) return { help: true, values, positionals: parsed.positionals };
  const n = parsed.positionals.length;
  if (n < positionals.min) throw new UsageError(`Missing ${positionals.names}.`);
  if (n > positionals.max) throw new UsageError(`Unexpected argument: ${parsed.positionals[positionals.max]}.`);
  return { help: false, values, positionals: parsed.positionals };
}

function wholeDays(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d{1,5}$/.test(value)) throw new UsageError(`${flag} must be a whole number of days (got ${JSON.stringify(value)}).`);
  const days = Number(value);
  if (days < 1 || days > 36500) throw new UsageError(`${flag} must be a whole number of days, 1-36500.`);
  return days;
}

/** A required email flag, checked before the database is opened (a typo creates nothing). */
function requiredEmail(value: unknown, flag: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new UsageError(`${flag} is required.`);
  const parsed = emailField.safeParse(value);
  if (!parsed.success) throw new UsageError(`${flag}: ${parsed.error.issues[0]?.message ?? 'not valid'}`);
  return parsed.data;
}

/**
 * Runs a command body with the shared error handling: exit 64 for a UsageError, 1 for an OpsError,
 * 78 for a ConfigError. Any other error is rethrown: src/cli.ts prints "<name> failed: …" and exits with 1.
 */
function command(spec: Omit<OpsCommand, 'run'>, body: (args: string[], io: CliIo) => Promise<number | void>): OpsCommand {
  return {
    ...spec,
    async run(args, io) {
      try {
        return (await body(args, io)) ?? EXIT.ok;
      } catch (err) {
        if (err instanceof UsageError) {
          io.err(`${spec.name}: ${err.message}\nUsage: npm run cli -- ${spec.name} ${spec.usage}   (--help for more)\n`);
          return EXIT.usage;
        }
        if (err instanceof ConfigError) {
          io.err(`${err.message}\n`);
          return EXIT.config;
        }
        if (err instanceof OpsError) {
          io.err(`${spec.name}: ${err.message}\n`);
          return EXIT.failure;
        }
        throw err;
      }
    },
  };
}

/** Opens the configured database (PostgreSQL when DATABASE_URL is set, else the SQLite file), migrated, for one command. */
async function withDatabase<T>(config: Config, fn: (connection: Connection) => Promise<T> | T): Promise<T> {
  const connection = connect({ databaseUrl: config.databaseUrl, databaseFile: config.databaseFile, poolSize: 2 });
  try {
    await migrate(connection);
    return await fn(connection);
  } finally {
    await connection.close();
  }
}

function helpText(cmd: Omit<OpsCommand, 'run'>): string {
  return `Usage: npm run cli -- ${cmd.name} ${cmd.usage}\n\n${cmd.summary}.\n\n${cmd.details}\n`;
}

const when = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

export const backupCommand = command(
  {
    name: 'backup',
    summary: 'Copy the database to a file (safe while the server runs)',
    usage: '<file>',
    details: `Writes a consistent copy of the database (DATA_DIR/console.sqlite) to <file> with SQLite's online
backup, while the server keeps serving. The copy is checked (PRAGMA integrity_check) before it is
moved into place; an existing file is never overwritten. The session secret (DATA_DIR/session-secret)
is not in the database: without it, sessions end after a restore, nothing else is lost.
With DATABASE_URL set (PostgreSQL), runs pg_dump --format=custom instead (from PATH or
/usr/lib/postgresql/*/bin), also safe while servers run; the dump is checked with pg_restore --list.`,
  },
  async (args, io) => {
    const parsed = parse(args, {}, { min: 1, max: 1, names: 'the backup file name' });
    if (parsed.help) return io.out(helpText(backupCommand));
    const config = loadConfig(io.env);
    if (config.databaseUrl) {
      const result = await backupPostgres(config.databaseUrl, parsed.positionals[0]);
      io.out(`Backed up ${describeDatabase(config)} to ${result.target} (${result.bytes} bytes, pg_dump custom format, readable by pg_restore).\n`);
      return;
    }
    const result = await backupDatabase(config.databaseFile, parsed.positionals[0]);
    io.out(`Backed up ${config.databaseFile} to ${result.target} (${result.bytes} bytes, integrity ok).\n`);
  },
);

export const restoreCommand = command(
  {
    name: 'restore',
    summary: 'Replace the database with a backup (server must be stopped)',
    usage: '<file>',
    details: `Replaces the database with <file>, a file made by \`backup\`. Refuses while a server uses DATA_DIR.
The file is checked first: it must pass PRAGMA integrity_check, be a database of this console, and
not come from a newer version. The current database is kept beside it as
console.sqlite.before-restore-<time>, and the swap is one atomic rename.
With DATABASE_URL set (PostgreSQL), <file> is a dump made by \`backup\` and is restored with
pg_restore --clean --if-exists in one transaction; the database as it was is dumped first to
DATA_DIR/postgres-before-restore-<time>.dump. Restore cannot tell whether servers use a PostgreSQL
database (they may run on other hosts): stop every server first.`,
  },
  async (args, io) => {
    const parsed = parse(args, {}, { min: 1, max: 1, names: 'the file to restore' });
    if (parsed.help) return io.out(helpText(restoreCommand));
    const config = loadConfig(io.env);
    const file = parsed.positionals[0];
    let result;
    if (config.databaseUrl) {
      const database = describeDatabase(config);
      io.out(`Restore cannot tell whether servers are using ${database} (they may run on other hosts): it relies on you having stopped them.\n`);
      result = await restorePostgres({ dataDir: config.dataDir, databaseUrl: config.databaseUrl }, file);
      io.out(`Restored ${database} from ${file} (${result.companies} companies, ${result.users} users).\n`);
    } else {
      result = await restoreDatabase(config, file);
      io.out(`Restored ${result.databaseFile} from ${file} (${result.companies} companies, ${result.users} users).\n`);
    }
    if (result.previousCopy) io.out(`The database it replaced is kept as ${result.previousCopy}.\n`);
    if (result.pendingMigrations.length)
      io.out(`The server will apply ${result.pendingMigrations.length} migration(s) when it starts: ${result.pendingMigrations.join(', ')}.\n`);
  },
);

export const createOperatorCommand = command(
  {
    name: 'create-operator',
    summary: 'Create an operator account and print its one-time link',
    usage: '--email <address> [--company <name>] [--password-stdin]',
    details: `Creates an operator (a person who runs this deployment) in the company <name> (created if no
company has that name; default: the first company, or "Default company" on an empty database).
Prints a one-time link (valid 72 hours) to choose a password. With --password-stdin the password
is read from standard input instead (12-72 bytes), e.g.  printf %s "$PASSWORD" | npm run cli -- ...`,
  },
  async (args, io) => {
    const parsed = parse(
      args,
      { email: { type: 'string' }, company: { type: 'string' }, 'password-stdin': { type: 'boolean' } },
      { min: 0, max: 0, names: '' },
    );
    if (parsed.help) return io.out(helpText(createOperatorCommand));
    const email = requiredEmail(parsed.values.email, '--email');
    let password: string | undefined;
    if (parsed.values['password-stdin']) {
      if (io.stdinIsTty) throw new UsageError('--password-stdin reads the password from a pipe, not from the terminal.');
      password = (await io.readStdin()).replace(/\r?\n$/, '');
      const checked = newPasswordField.safeParse(password);
      if (!checked.success) throw new UsageError(`the password from standard input: ${checked.error.issues[0]?.message ?? 'not valid'}`);
    }
    const config = loadConfig(io.env);
    const result = await withDatabase(config, (connection) =>
      createOperator(
        { db: connection.db, clock: systemClock, bcryptCost: config.bcryptCost, publicUrl: config.publicUrl },
        { email, company: parsed.values.company as string | undefined, password },
      ),
    );
    io.out(`Created operator ${email} in ${result.companyCreated ? 'the new company' : 'company'} "${result.companyName}".\n`);
    if (result.link) io.out(`One-time link to choose a password (until ${when(result.expiresAt!)}):\n${result.link}\n`);
    else io.out('The password is set; they can sign in now.\n');
  },
);

export const resetPasswordCommand = command(
  {
    name: 'reset-password',
    summary: 'Print a one-time link for a user to choose a new password',
    usage: '--email <address> [--lock-now]',
    details: `Prints a one-time link (valid 72 hours) for the user to choose a new password; earlier unused links
stop working. The current password keeps working until the link is used, unless --lock-now is
given: then it stops at once and every session of the user ends (a suspected compromise).`,
  },
  async (args, io) => {
    const parsed = parse(args, { email: { type: 'string' }, 'lock-now': { type: 'boolean' } }, { min: 0, max: 0, names: '' });
    if (parsed.help) return io.out(helpText(resetPasswordCommand));
    const email = requiredEmail(parsed.values.email, '--email');
    const config = loadConfig(io.env);
    const result = await withDatabase(config, (connection) =>
      resetPassword({ db: connection.db, clock: systemClock, publicUrl: config.publicUrl }, email, {
        lockNow: parsed.values['lock-now'] === true,
      }),
    );
    if (parsed.values['lock-now']) io.out(`The current password of ${result.email} no longer works; ${result.sessionsEnded} session(s) ended.\n`);
    io.out(`One-time link for ${result.email} to choose a new password (until ${when(result.expiresAt)}):\n${result.link}\n`);
  },
);

export const resetFactorsCommand = command(
  {
    name: 'reset-factors',
    summary: "Remove a user's second factors (authenticator apps and recovery codes)",
    usage: '--email <address>',
    details: `For a user who lost their phone and their recovery codes. Every authenticator app and recovery
code of the user is removed; they sign in with their password alone, or add a second factor at
once where the policy requires one. Audited, and mailed to the user (the running server delivers it).`,
  },
  async (args, io) => {
    const parsed = parse(args, { email: { type: 'string' } }, { min: 0, max: 0, names: '' });
    if (parsed.help) return io.out(helpText(resetFactorsCommand));
    const email = requiredEmail(parsed.values.email, '--email');
    const config = loadConfig(io.env);
    const result = await withDatabase(config, (connection) => {
      // Queued in the outbox only: the server's mail worker delivers it (this process ends at once).
      const outbox = new OutboxMailer(
        connection.db,
        systemClock,
        createLogger('warn'),
        config.smtpUrl ? smtpTransport(config.smtpUrl, config.mailFrom) : undefined,
      );
      const mailer = { send: outbox.send.bind(outbox) };
      return resetFactors({ db: connection.db, clock: systemClock, publicUrl: config.publicUrl, mailer }, email);
    });
    io.out(
      `The second factors of ${result.email} are reset: ${result.removed} authenticator app(s) and ${result.passkeys} passkey(s) removed, and the recovery codes.\n`,
    );
  },
);

export const pruneCommand = command(
  {
    name: 'prune',
    summary: 'Delete lapsed unsaved credentials, expired sessions and (optionally) old audit entries',
    usage: '[--generations-days <n>] [--audit-days <n>] [--dry-run]',
    details: `Safe while the server runs. Deletes:
  - generated credentials that were never saved and lapsed more than <n> days ago (default ${DEFAULT_GENERATIONS_DAYS});
    saved credentials are history and are kept;
  - expired sign-in sessions, and revoked access tokens past their expiry (they fail their signature check anyway);
  - audit entries older than --audit-days <n> days (only when given: by default the trail is kept whole).
--dry-run prints the counts and changes nothing.`,
  },
  async (args, io) => {
    const parsed = parse(
      args,
      { 'generations-days': { type: 'string' }, 'audit-days': { type: 'string' }, 'dry-run': { type: 'boolean' } },
      { min: 0, max: 0, names: '' },
    );
    if (parsed.help) return io.out(helpText(pruneCommand));
    const options = {
      generationsDays: wholeDays(parsed.values['generations-days'], '--generations-days'),
      auditDays: wholeDays(parsed.values['audit-days'], '--audit-days'),
      dryRun: parsed.values['dry-run'] === true,
    };
    const config = loadConfig(io.env);
    const result = await withDatabase(config, (connection) => prune({ db: connection.db, clock: systemClock }, options));
    if (!result) {
      io.out('Another prune is running on this database right now; this one did nothing.\n');
      return;
    }
    const verb = result.dryRun ? 'Would delete' : 'Deleted';
    io.out(
      `${verb}: ${result.generations} unsaved generation(s), ${result.sessions} expired session(s), ` +
        `${result.revokedTokens} expired revoked-token record(s), ${result.auditEntries} audit entr${result.auditEntries === 1 ? 'y' : 'ies'}.\n`,
    );
  },
);

/** The operations commands, in the order `--help` lists them. */
export const opsCommands: OpsCommand[] = [backupCommand, restoreCommand, createOperatorCommand, resetPasswordCommand, resetFactorsCommand, pruneCommand];

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  get stdinIsTty() {
    return process.stdin.isTTY === true;
  },
  env: process.env,
};

/** The dispatcher's shape (src/cli/command.ts), on the process's own streams and environment. */
export function cliCommand(cmd: OpsCommand, io: CliIo = processIo): CliCommand {
  return { summary: cmd.summary, usage: cmd.usage, details: cmd.details, run: (args) => cmd.run(args, io) };
}
