import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, describeDatabase, ensureSessionSecret, loadConfig } from '../src/config';

const SECRET = 'a-session-secret-that-is-long-enough-0123456789';

/** The message loadConfig throws for this environment (fails the test when it does not throw). */
function configError(env: Record<string, string>): string {
  try {
    loadConfig({ DATA_DIR: '/tmp/console-config-test', SESSION_SECRET: SECRET, ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`expected a configuration error for ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('fills in the documented defaults', () => {
    const config = loadConfig({ DATA_DIR: '/tmp/console-config-test' });
    expect(config).toMatchObject({
      port: 3000,
      publicUrl: 'http://localhost:3000',
      companyName: 'Default company',
      accessTokenTtl: 3600,
      bcryptCost: 12,
      logLevel: 'info',
      trustProxy: false,
      secureCookies: false,
    });
    expect(config.databaseFile).toBe(path.join('/tmp/console-config-test', 'console.sqlite'));
  });

  it('turns on secure cookies for an https PUBLIC_URL and drops its trailing slash', () => {
    const config = loadConfig({ DATA_DIR: '/tmp/x', PUBLIC_URL: 'https://console.example.com/' });
    expect(config.publicUrl).toBe('https://console.example.com');
    expect(config.secureCookies).toBe(true);
  });

  it.each([
    ['true', true],
    ['2', 2],
    ['loopback', 'loopback'],
    ['10.0.0.0/8, 192.168.1.1', '10.0.0.0/8, 192.168.1.1'],
  ])('reads TRUST_PROXY=%s', (value, expected) => {
    expect(loadConfig({ DATA_DIR: '/tmp/x', TRUST_PROXY: value }).trustProxy).toEqual(expected);
  });

  it.each([
    ['PORT=abc', { PORT: 'abc' }, 'PORT', 'a whole number 1-65535', '"abc"'],
    ['PORT=70000', { PORT: '70000' }, 'PORT', 'a whole number 1-65535', '"70000"'],
    ['PORT=80.5', { PORT: '80.5' }, 'PORT', 'a whole number 1-65535', '"80.5"'],
    ['PUBLIC_URL=ftp://x', { PUBLIC_URL: 'ftp://x' }, 'PUBLIC_URL', 'must start with http:// or https://', '"ftp://x"'],
    ['PUBLIC_URL=console.example.com', { PUBLIC_URL: 'console.example.com' }, 'PUBLIC_URL', 'absolute http(s) URL', '"console.example.com"'],
    ['BCRYPT_COST=5', { BCRYPT_COST: '5' }, 'BCRYPT_COST', '10-15', '"5"'],
    ['BCRYPT_COST=high', { BCRYPT_COST: 'high' }, 'BCRYPT_COST', '10-15', '"high"'],
    ['LOG_LEVEL=loud', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL', 'one of fatal, error, warn, info, debug, trace, silent', '"loud"'],
    ['ACCESS_TOKEN_TTL=10', { ACCESS_TOKEN_TTL: '10' }, 'ACCESS_TOKEN_TTL', '60-86400', '"10"'],
    ['ACCESS_TOKEN_TTL=an hour', { ACCESS_TOKEN_TTL: 'an hour' }, 'ACCESS_TOKEN_TTL', '60-86400', '"an hour"'],
    ['TRUST_PROXY=maybe', { TRUST_PROXY: 'maybe' }, 'TRUST_PROXY', 'true, false, a hop count', '"maybe"'],
    ['ADMIN_EMAIL=not-an-email', { ADMIN_EMAIL: 'not-an-email', ADMIN_PASSWORD: 'long enough password' }, 'ADMIN_EMAIL', 'email address', '"not-an-email"'],
    ['COMPANY_NAME of 101 characters', { COMPANY_NAME: 'x'.repeat(101) }, 'COMPANY_NAME', '1-100 characters', 'xxxx'],
  ])('rejects %s, naming the variable and what is allowed', (_label, env, variable, allowed, got) => {
    const message = configError(env);
    expect(message).toContain(`${variable}:`);
    expect(message).toContain(allowed);
    expect(message).toContain(got);
  });

  it('lists every bad variable at once', () => {
    const message = configError({ PORT: 'abc', LOG_LEVEL: 'loud', BCRYPT_COST: '5' });
    expect(message).toMatch(/PORT:[\s\S]*BCRYPT_COST:[\s\S]*LOG_LEVEL:/);
  });

  it('wants ADMIN_EMAIL and ADMIN_PASSWORD together', () => {
    expect(configError({ ADMIN_EMAIL: 'ops@example.com' })).toContain('ADMIN_EMAIL and ADMIN_PASSWORD must be given together');
    expect(configError({ ADMIN_PASSWORD: 'a long enough password' })).toContain('ADMIN_EMAIL and ADMIN_PASSWORD must be given together');
  });

  it('refuses an ADMIN_PASSWORD over 72 bytes instead of letting bcrypt cut it short', () => {
    // 40 accented letters: 40 characters but 80 bytes.
    const message = configError({ ADMIN_EMAIL: 'ops@example.com', ADMIN_PASSWORD: 'é'.repeat(40) });
    expect(message).toContain('ADMIN_PASSWORD: must be at most 72 bytes');
    expect(message).toContain('it has 80');
    expect(message).not.toContain('é');
  });

  it('accepts an ADMIN_PASSWORD of exactly 72 bytes and keeps its spaces', () => {
    const password = ` ${'p'.repeat(70)} `;
    const config = loadConfig({ DATA_DIR: '/tmp/x', ADMIN_EMAIL: 'Ops@Example.com', ADMIN_PASSWORD: password });
    expect(config.adminPassword).toBe(password);
    expect(config.adminEmail).toBe('ops@example.com');
  });

  it('never echoes a secret value in its message', () => {
    const message = configError({ SESSION_SECRET: 'too-short-secret', ADMIN_EMAIL: 'ops@example.com', ADMIN_PASSWORD: 'hunter2', SMTP_URL: 'smtp-pass-word' });
    expect(message).toContain('SESSION_SECRET: must be at least 32 characters (value not shown)');
    expect(message).toContain('ADMIN_PASSWORD: must be at least 12 characters (value not shown)');
    expect(message).toContain('SMTP_URL:');
    expect(message).not.toContain('too-short-secret');
    expect(message).not.toContain('hunter2');
    expect(message).not.toContain('smtp-pass-word');
  });

  it('takes DATABASE_URL for PostgreSQL; without it the database is the SQLite file', () => {
    expect(loadConfig({ DATA_DIR: '/tmp/x' }).databaseUrl).toBeUndefined();
    expect(loadConfig({ DATA_DIR: '/tmp/x', DATABASE_URL: ' ' }).databaseUrl).toBeUndefined();
    for (const url of ['postgres://console:pw@db.internal:5433/console', 'postgresql://console@localhost/console']) {
      expect(loadConfig({ DATA_DIR: '/tmp/x', DATABASE_URL: url }).databaseUrl).toBe(url);
    }
  });

  it('refuses a DATABASE_URL that is not postgres:// or postgresql://, without echoing it', () => {
    for (const url of ['mysql://root:s3cret-pw@db/console', 'sqlite:///data/console.sqlite', 'db.internal:5432']) {
      const message = configError({ DATABASE_URL: url });
      expect(message).toContain('DATABASE_URL: must be a URL such as postgres://user:password@host:5432/console (value not shown)');
      expect(message).not.toContain(url);
    }
  });
});

describe('describeDatabase', () => {
  it('names host, port and database, never the password', () => {
    const config = loadConfig({ DATA_DIR: '/tmp/x', DATABASE_URL: 'postgres://console:s3cret-pw@db.internal:5433/console_prod' });
    expect(describeDatabase(config)).toBe('PostgreSQL database "console_prod" on db.internal:5433');
    expect(describeDatabase({ databaseUrl: 'postgresql:///console?host=/run/postgresql', databaseFile: '' })).toBe(
      'PostgreSQL database "console" on /run/postgresql:5432',
    );
  });

  it('names the SQLite file when there is no DATABASE_URL', () => {
    expect(describeDatabase(loadConfig({ DATA_DIR: '/tmp/x' }))).toBe(path.join('/tmp/x', 'console.sqlite'));
  });
});

describe('ensureSessionSecret', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'console-secret-')), 'data');
  });
  afterEach(() => fs.rmSync(path.dirname(dataDir), { recursive: true, force: true }));

  it('creates a 0600 secret file in DATA_DIR on first start and reuses it afterwards', () => {
    const config = loadConfig({ DATA_DIR: dataDir });
    expect(config.sessionSecret).toBe('');

    const first = ensureSessionSecret(config);
    const file = path.join(dataDir, 'session-secret');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(first.sessionSecret.length).toBeGreaterThanOrEqual(32);
    expect(fs.readFileSync(file, 'utf8').trim()).toBe(first.sessionSecret);

    const second = ensureSessionSecret(loadConfig({ DATA_DIR: dataDir }));
    expect(second.sessionSecret).toBe(first.sessionSecret);
    expect(fs.readdirSync(dataDir)).toEqual(['session-secret']);
  });

  it('leaves a configured SESSION_SECRET alone and writes no file', () => {
    const config = ensureSessionSecret(loadConfig({ DATA_DIR: dataDir, SESSION_SECRET: SECRET }));
    expect(config.sessionSecret).toBe(SECRET);
    expect(fs.existsSync(path.join(dataDir, 'session-secret'))).toBe(false);
  });
});
