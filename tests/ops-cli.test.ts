import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { EXIT } from '../src/cli/command';
import { ensureBuilt, freePort, runCli, startServer } from './ops-support';

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
    for (const name of ['backup', 'restore', 'create-operator', 'reset-password', 'prune', 'rotate-signing-key']) {
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
