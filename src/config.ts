import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { z } from 'zod';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

/** Like optionalString, but never trimmed: a password's spaces are part of it. */
const optionalSecret = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value));

/** A whole number from the environment; the message says what is allowed, also for "abc". */
const wholeNumber = (min: number, max: number, allowed: string) =>
  z.coerce
    .number({ message: `must be ${allowed}` })
    .int(`must be ${allowed}`)
    .min(min, `must be ${allowed}`)
    .max(max, `must be ${allowed}`);

/** Variables whose value must never be echoed in an error message (it would land in logs). */
const SECRET_VARIABLES = new Set(['SESSION_SECRET', 'ADMIN_PASSWORD', 'SMTP_URL', 'DATABASE_URL', 'METRICS_TOKEN']);

/** A PostgreSQL connection URL; its password is never echoed (SECRET_VARIABLES, describeDatabase). */
const databaseUrl = optionalString.pipe(
  z
    .string()
    .refine((value) => /^postgres(ql)?:\/\//.test(value) && URL.canParse(value), 'must be a URL such as postgres://user:password@host:5432/console')
    .optional(),
);

/** Every environment variable the server reads, parsed once at start-up. */
const EnvSchema = z.object({
  PORT: wholeNumber(1, 65535, 'a whole number 1-65535').default(3000),
  PUBLIC_URL: optionalString.pipe(z.url('must be an absolute http(s) URL such as https://api.example.com').optional()),
  DATABASE_URL: databaseUrl,
  DATA_DIR: z.string().trim().min(1, 'must be a directory path (or leave it unset for ./data)').default('./data'),
  SESSION_SECRET: optionalSecret.pipe(z.string().min(32, 'must be at least 32 characters').optional()),
  ADMIN_EMAIL: optionalString.pipe(z.email('must be an email address').optional()),
  ADMIN_PASSWORD: optionalSecret.pipe(z.string().min(12, 'must be at least 12 characters').optional()),
  COMPANY_NAME: z
    .string()
    .trim()
    .min(1, 'must be 1-100 characters (or leave it unset for "Default company")')
    .max(100, 'must be 1-100 characters')
    .refine((name) => !/[\u0000-\u001f\u007f]/.test(name), 'must not contain control characters')
    .default('Default company'),
  SMTP_URL: optionalString.pipe(z.url('must be a URL such as smtp://user:pass@host:587 or smtps://host:465').optional()),
  MAIL_FROM: z.string().trim().default('API console <no-reply@localhost>'),
  ACCESS_TOKEN_TTL: wholeNumber(60, 86400, 'a whole number of seconds, 60-86400').default(3600),
  BCRYPT_COST: wholeNumber(10, 15, 'a whole number 10-15').default(12),
  LOG_LEVEL: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  TRUST_PROXY: z
    .string()
    .trim()
    .default('false')
    .transform((value, ctx): boolean | number | string => {
      if (value === 'true') return true;
      if (value === 'false' || value === '') return false;
      if (/^\d+$/.test(value)) return Number(value);
      if (/^[0-9a-fA-F.:/, ]+$|^(loopback|linklocal|uniquelocal)(,|$)/.test(value)) return value;
      ctx.addIssue({ code: 'custom', message: 'must be true, false, a hop count, or a list of addresses/subnets' });
      return z.NEVER;
    }),
  NODE_ENV: z.string().default('production'),
  // GET /metrics is off without a token; a short one could be guessed by anyone who can reach the port.
  METRICS_TOKEN: optionalSecret.pipe(z.string().min(16, 'must be at least 16 characters (a scrape token that short could be guessed)').optional()),
  METRICS_PORT: z.preprocess(
    (value) => (typeof value === 'string' && value.trim() === '' ? undefined : value),
    wholeNumber(1, 65535, 'a whole number 1-65535 (a port on 127.0.0.1 that serves only /metrics)').optional(),
  ),
});

export interface Config {
  port: number;
  publicUrl: string;
  dataDir: string;
  /** PostgreSQL's connection URL (DATABASE_URL); when absent, the SQLite file `databaseFile` is the database. */
  databaseUrl?: string;
  databaseFile: string;
  sessionSecret: string;
  adminEmail?: string;
  adminPassword?: string;
  companyName: string;
  smtpUrl?: string;
  mailFrom: string;
  accessTokenTtl: number;
  bcryptCost: number;
  logLevel: (typeof LOG_LEVELS)[number];
  trustProxy: boolean | number | string;
  secureCookies: boolean;
  isDevelopment: boolean;
  /** The bearer token a Prometheus scrape of /metrics sends; metrics are off without it. */
  metricsToken?: string;
  /** A second listener on 127.0.0.1 serving only /metrics. */
  metricsPort?: number;
}

export class ConfigError extends Error {}

/** Parses the environment; throws ConfigError naming each bad variable and what is allowed. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      const got = SECRET_VARIABLES.has(name) ? 'value not shown' : `got ${JSON.stringify(env[name] ?? '')}`;
      return `  ${name}: ${issue.message} (${got})`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if ((e.ADMIN_EMAIL === undefined) !== (e.ADMIN_PASSWORD === undefined)) {
    throw new ConfigError('Invalid configuration:\n  ADMIN_EMAIL and ADMIN_PASSWORD must be given together (or neither)');
  }
  if (e.ADMIN_PASSWORD !== undefined && Buffer.byteLength(e.ADMIN_PASSWORD) > 72) {
    throw new ConfigError(
      `Invalid configuration:\n  ADMIN_PASSWORD: must be at most 72 bytes; it has ${Buffer.byteLength(e.ADMIN_PASSWORD)} (bcrypt would ignore the rest, so it is refused rather than cut short)`,
    );
  }
  const publicUrl = (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '');
  if (!/^https?:\/\//.test(publicUrl)) {
    throw new ConfigError(`Invalid configuration:\n  PUBLIC_URL: must start with http:// or https:// (got ${JSON.stringify(publicUrl)})`);
  }
  if (e.METRICS_PORT !== undefined && e.METRICS_TOKEN === undefined) {
    throw new ConfigError('Invalid configuration:\n  METRICS_PORT: needs METRICS_TOKEN (a scrape must send it, on either port)');
  }
  if (e.METRICS_PORT !== undefined && e.METRICS_PORT === e.PORT) {
    throw new ConfigError(`Invalid configuration:\n  METRICS_PORT: must differ from PORT (${e.PORT}); leave it unset to serve /metrics on PORT`);
  }
  const dataDir = path.resolve(e.DATA_DIR);
  return {
    port: e.PORT,
    publicUrl,
    dataDir,
    databaseUrl: e.DATABASE_URL,
    databaseFile: path.join(dataDir, 'console.sqlite'),
    sessionSecret: e.SESSION_SECRET ?? '',
    adminEmail: e.ADMIN_EMAIL?.toLowerCase(),
    adminPassword: e.ADMIN_PASSWORD,
    companyName: e.COMPANY_NAME,
    smtpUrl: e.SMTP_URL,
    mailFrom: e.MAIL_FROM,
    accessTokenTtl: e.ACCESS_TOKEN_TTL,
    bcryptCost: e.BCRYPT_COST,
    logLevel: e.LOG_LEVEL,
    trustProxy: e.TRUST_PROXY,
    secureCookies: publicUrl.startsWith('https://'),
    isDevelopment: e.NODE_ENV === 'development',
    metricsToken: e.METRICS_TOKEN,
    metricsPort: e.METRICS_PORT,
  };
}

/**
 * Which database the config points at, for logs and command output: the SQLite file, or PostgreSQL's
 * host, port and database name. Never the URL itself: it may carry a password.
 */
export function describeDatabase(config: Pick<Config, 'databaseUrl' | 'databaseFile'>): string {
  if (!config.databaseUrl) return config.databaseFile;
  const url = new URL(config.databaseUrl);
  const host = url.hostname || url.searchParams.get('host') || 'localhost'; // ?host=/run/postgresql: a socket directory
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || '(default database)';
  return `PostgreSQL database "${database}" on ${host}:${url.port || '5432'}`;
}

export const sessionSecretFile = (dataDir: string): string => path.join(dataDir, 'session-secret');

/** Reads SESSION_SECRET from DATA_DIR, creating it (mode 0600) on first start when not configured. */
export function ensureSessionSecret(config: Config): Config {
  if (config.sessionSecret) return config;
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const file = sessionSecretFile(config.dataDir);
  if (!fs.existsSync(file)) {
    fs.writeFileSync(file, crypto.randomBytes(48).toString('base64url'), { mode: 0o600, flag: 'wx' });
  }
  return { ...config, sessionSecret: fs.readFileSync(file, 'utf8').trim() };
}
