import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { EXIT } from '../src/cli/command';
import { connect } from '../src/db/connect';
import type { Connection } from '../src/db/connect';
import { migrate } from '../src/db/migrate';
import { ROOT } from '../src/paths';
import { ensureBuilt, freePort, runCli, startServer } from './ops-support';
import { runningCluster, startCluster } from './support/postgres';
import type { Cluster } from './support/postgres';

/** The operations commands as an operator runs them: `node dist/src/cli.js` (what `npm run cli --` runs after building). */
describe('npm run cli -- <command>', () => {
  let dataDir: string;
  let env: Record<string, string>;
  beforeAll(() => ensureBuilt(), 180_000);
  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-cli-'));
    env = { DATA_DIR: dataDir, PUBLIC_URL: 'https://console.example.test' };
  });
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('--help lists every command', async () => {
    const res = await runCli(['--help'], env);
    expect(res.code).toBe(EXIT.ok);
    for (const name of ['backup', 'restore', 'create-operator', 'reset-password', 'reset-factors', 'prune', 'rotate-signing-key']) {
      expect(res.stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    }
  });

  it.each([
    ['backup', /Usage: npm run cli -- backup <file>[\s\S]*online\s+backup/],
    ['restore', /Usage: npm run cli -- restore <file>[\s\S]*Refuses while a server uses DATA_DIR/],
    ['create-operator', /Usage: npm run cli -- create-operator --email <address>[\s\S]*--password-stdin/],
    ['reset-password', /Usage: npm run cli -- reset-password --email <address> \[--lock-now\]/],
    ['prune', /Usage: npm run cli -- prune \[--generations-days <n>\] \[--audit-days <n>\] \[--dry-run\]/],
  ])('%s --help shows its usage and what it does', async (name, usage) => {
    const res = await runCli([name, '--help'], env);
    expect(res.code).toBe(EXIT.ok);
    expect(res.stdout).toMatch(usage);
  });

  it.each([
    [['backup'], /backup: Missing the backup file name\./],
    [['backup', 'a.sqlite', 'b.sqlite'], /backup: Unexpected argument: b\.sqlite\./],
    [['restore'], /restore: Missing the file to restore\./],
    [['restore', '--force', 'x'], /restore: Unknown option '--force'/],
    [['create-operator'], /create-operator: --email is required\./],
    [['create-operator', '--email'], /create-operator: Option '--email <value>' argument missing/],
    [['create-operator', '--email', 'not-an-address'], /create-operator: --email: Enter an email address like name@example\.com\./],
    [['create-operator', '--email', 'a@b.test', 'extra'], /Unexpected argument: extra/],
    [['reset-password', 'someone@example.test'], /reset-password: Unexpected argument: someone@example\.test/],
    [['prune', '--audit-days', 'abc'], /prune: --audit-days must be a whole number of days \(got "abc"\)\./],
    [['prune', '--audit-days', '0'], /prune: --audit-days must be a whole number of days, 1-36500\./],
    [['prune', '--bogus'], /prune: Unknown option '--bogus'/],
    [['no-such-command'], /Unknown command "no-such-command"/],
  ])('%j is refused with a clear message and the usage exit code', async (args, message) => {
    const res = await runCli(args, env);
    expect(res.stderr).toMatch(message);
    expect(res.code).toBe(EXIT.usage);
    expect(fs.readdirSync(dataDir)).toEqual([]); // nothing was created or opened
  });

  it('says what is wrong with the environment (configuration exit code)', async () => {
    const res = await runCli(['prune'], { ...env, PUBLIC_URL: 'not a url' });
    expect(res.code).toBe(EXIT.config);
    expect(res.stderr).toMatch(/PUBLIC_URL: must be an absolute http\(s\) URL/);
  });

  it('create-operator prints a one-time link; --password-stdin sets the password instead', async () => {
    const first = await runCli(['create-operator', '--email', 'ops@example.test', '--company', 'Ops Ltd'], env);
    expect(first.code).toBe(EXIT.ok);
    expect(first.stdout).toMatch(/Created operator ops@example\.test in the new company "Ops Ltd"\./);
    expect(first.stdout).toMatch(/^https:\/\/console\.example\.test\/invitation\?token=[\w-]+$/m);

    const second = await runCli(['create-operator', '--email', 'two@example.test', '--password-stdin'], env, 'a long enough passphrase\n');
    expect(second.code).toBe(EXIT.ok);
    expect(second.stdout).toMatch(/The password is set/);
    const db = new Database(path.join(dataDir, 'console.sqlite'), { readonly: true });
    const rows = db.prepare('SELECT email, is_operator AS op, password_hash IS NOT NULL AS hasPassword FROM users ORDER BY id').all();
    db.close();
    expect(rows).toEqual([
      { email: 'ops@example.test', op: 1, hasPassword: 0 },
      { email: 'two@example.test', op: 1, hasPassword: 1 },
    ]);

    const again = await runCli(['create-operator', '--email', 'OPS@example.test'], env);
    expect(again.code).toBe(EXIT.failure);
    expect(again.stderr).toMatch(/ops@example\.test already has an account/);
  });

  it('reset-password prints a new link; prune reports its counts', async () => {
    await runCli(['create-operator', '--email', 'ops@example.test'], env);
    const reset = await runCli(['reset-password', '--email', 'ops@example.test', '--lock-now'], env);
    expect(reset.code).toBe(EXIT.ok);
    expect(reset.stdout).toMatch(/no longer works; 0 session\(s\) ended/);
    expect(reset.stdout).toMatch(/^https:\/\/console\.example\.test\/invitation\?token=[\w-]+$/m);
    const unknown = await runCli(['reset-password', '--email', 'nobody@example.test'], env);
    expect(unknown.code).toBe(EXIT.failure);
    expect(unknown.stderr).toBe('reset-password: No account has the address nobody@example.test.\n');

    const dry = await runCli(['prune', '--dry-run', '--audit-days', '30'], env);
    expect(dry.stdout).toBe('Would delete: 0 unsaved generation(s), 0 expired session(s), 0 expired revoked-token record(s), 0 audit entries.\n');
  });

  it('backup works while the server serves; restore refuses until the server has stopped', async () => {
    const port = await freePort();
    const server = await startServer(
      { ...env, PUBLIC_URL: `http://127.0.0.1:${port}`, ADMIN_EMAIL: 'admin@example.test', ADMIN_PASSWORD: 'a long admin password' },
      port,
    );
    try {
      const backup = path.join(dataDir, 'nightly.sqlite');
      const traffic = Promise.all(Array.from({ length: 50 }, () => fetch(`${server.base}/healthz`).then((r) => r.status)));
      const made = await runCli(['backup', backup], env);
      expect(made.stdout).toMatch(/^Backed up .*console\.sqlite to .*nightly\.sqlite \(\d+ bytes, integrity ok\)\.$/m);
      expect(made.code).toBe(EXIT.ok);
      expect(await traffic).toEqual(Array(50).fill(200));

      const refused = await runCli(['restore', backup], env);
      expect(refused.code).toBe(EXIT.failure);
      expect(refused.stderr).toMatch(new RegExp(`The server is running on this data directory \\(pid ${server.child.pid} on .+\\)\\. Stop it first`));

      server.child.kill('SIGTERM');
      expect(await server.exited).toEqual({ code: 0, signal: null });
      const restored = await runCli(['restore', backup], env);
      expect(restored.code).toBe(EXIT.ok);
      expect(restored.stdout).toMatch(/Restored .*console\.sqlite from .*nightly\.sqlite \(1 companies, 1 users\)\./);
      expect(restored.stdout).toMatch(/kept as .*console\.sqlite\.before-restore-/);
    } finally {
      server.child.kill('SIGKILL');
    }
  });
});

/** The same commands with DATABASE_URL: PostgreSQL, on a throwaway cluster (the run's own, or one started here). */
describe('npm run cli -- <command> with DATABASE_URL (PostgreSQL)', () => {
  let cluster: Pick<Cluster, 'port' | 'url' | 'psql'>;
  let ownCluster: Cluster | undefined;
  let dataDir: string;
  let env: Record<string, string>;
  let connection: Connection;
  const PASSWORD_IN_URL = 'never-printed-pw';
  beforeAll(async () => {
    ensureBuilt();
    const running = runningCluster();
    if (running) cluster = running;
    else cluster = ownCluster = await startCluster();
    const name = `cli_${process.pid}`;
    cluster.psql(`CREATE DATABASE ${name}`);
    connection = connect({ databaseUrl: cluster.url(name), databaseFile: '', poolSize: 2 });
    await migrate(connection);
    await connection.db.insertInto('companies').values({ name: 'Acme', created_at: 0 }).execute();
    // The test cluster trusts local connections, so the password is not checked: it is here to be never printed.
    const url = `postgres://postgres:${PASSWORD_IN_URL}@127.0.0.1:${cluster.port}/${name}`;
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-cli-pg-'));
    env = { DATA_DIR: dataDir, PUBLIC_URL: 'https://console.example.test', DATABASE_URL: url };
  }, 240_000);
  afterAll(async () => {
    await connection.close();
    ownCluster?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  const companyNames = async () => (await connection.db.selectFrom('companies').select('name').orderBy('id').execute()).map((row) => row.name);
  const never = (res: { stdout: string; stderr: string }) => expect(res.stdout + res.stderr).not.toContain(PASSWORD_IN_URL);

  it('backup writes a pg_dump file; restore puts it back, says what it cannot check, and keeps the database as it was', async () => {
    const backup = path.join(dataDir, 'nightly.dump');
    const made = await runCli(['backup', backup], env);
    never(made);
    expect(made.code).toBe(EXIT.ok);
    expect(made.stdout).toBe(
      `Backed up PostgreSQL database "cli_${process.pid}" on 127.0.0.1:${cluster.port} to ${backup} (${fs.statSync(backup).size} bytes, pg_dump custom format, readable by pg_restore).\n`,
    );

    await connection.db.insertInto('companies').values({ name: 'Added later', created_at: 0 }).execute();
    const restored = await runCli(['restore', backup], env);
    never(restored);
    expect(restored.code).toBe(EXIT.ok);
    expect(restored.stdout).toMatch(
      /^Restore cannot tell whether servers are using PostgreSQL database "cli_\d+" on 127\.0\.0\.1:\d+ \(they may run on other hosts\)/,
    );
    expect(restored.stdout).toMatch(/Restored PostgreSQL database "cli_\d+" on .* from .*nightly\.dump \(1 companies, 0 users\)\./);
    expect(restored.stdout).toMatch(/kept as .*postgres-before-restore-.*\.dump\./);
    expect(await companyNames()).toEqual(['Acme']);

    const refused = await runCli(['restore', path.join(dataDir, 'missing.dump')], env);
    expect(refused.code).toBe(EXIT.failure);
    expect(refused.stderr).toMatch(/restore: .*missing\.dump does not exist\./);
  });

  it('create-operator, reset-password, rotate-signing-key and prune work on PostgreSQL, and never print the URL', async () => {
    const created = await runCli(['create-operator', '--email', 'ops@example.test', '--company', 'Acme'], env);
    never(created);
    expect(created.code).toBe(EXIT.ok);
    expect(created.stdout).toContain('Created operator ops@example.test in company "Acme".');
    const [operator] = await connection.db.selectFrom('users').select(['email', 'is_operator']).execute();
    expect(operator).toEqual({ email: 'ops@example.test', is_operator: 1 });

    const reset = await runCli(['reset-password', '--email', 'ops@example.test'], env);
    never(reset);
    expect(reset.code).toBe(EXIT.ok);
    expect(reset.stdout).toContain('https://console.example.test/invitation?token=');

    const before = await connection.db.selectFrom('signing_keys').select('kid').where('status', '=', 'active').execute();
    const rotated = await runCli(['rotate-signing-key'], env);
    never(rotated);
    expect(rotated.code).toBe(EXIT.ok);
    const after = await connection.db.selectFrom('signing_keys').select(['kid', 'status']).execute();
    expect(after.filter((k) => k.status === 'active')).toHaveLength(1);
    expect(after.find((k) => k.status === 'active')!.kid).not.toBe(before[0]?.kid);

    const pruned = await runCli(['prune', '--dry-run'], env);
    never(pruned);
    expect(pruned.code).toBe(EXIT.ok);
    const actions = (await connection.db.selectFrom('audit_log').select('action').orderBy('id').execute()).map((row) => row.action);
    expect(actions).toEqual(expect.arrayContaining(['ops.create_operator', 'ops.reset_password', 'signing_key.rotate']));
  });

  it('the server starts on PostgreSQL, says which database without its password, and answers /healthz', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'src', 'server.js')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port), SESSION_SECRET: 'a-session-secret-for-the-postgres-cli-test-0123456789' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      let status = 0;
      for (let i = 0; i < 200 && status !== 200; i++) {
        status = await fetch(`http://127.0.0.1:${port}/healthz`).then(
          (res) => res.status,
          () => 0,
        );
        if (status !== 200) await new Promise((r) => setTimeout(r, 50));
      }
      expect(status).toBe(200);
      const listening = output
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { msg: string; database?: string })
        .find((line) => line.msg === 'console listening');
      expect(listening?.database).toBe(`PostgreSQL database "cli_${process.pid}" on 127.0.0.1:${cluster.port}`);
      expect(output).not.toContain(PASSWORD_IN_URL);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
});
