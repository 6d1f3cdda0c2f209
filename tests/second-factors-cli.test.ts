import { EXIT } from '../src/cli/command';
import { resetFactorsCommand } from '../src/ops/commands';
import type { CliIo } from '../src/ops/commands';
import { createTestContext, seedCompany, signIn } from './helpers';
import type { SeededUser, TestContext } from './helpers';
import { enrolTotp, passwordStep } from './second-factors-support';

/** `npm run cli -- reset-factors`, run in this process against the test's database (either engine). */
describe('npm run cli -- reset-factors', () => {
  let ctx: TestContext;
  let admin: SeededUser;
  beforeEach(async () => {
    ctx = createTestContext();
    admin = await seedCompany(ctx, 'Acme', 'admin@acme.test');
  });
  afterEach(() => ctx.close());

  async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const io: CliIo = {
      out: (text) => void (stdout += text),
      err: (text) => void (stderr += text),
      readStdin: () => Promise.resolve(''),
      stdinIsTty: false,
      env: { DATA_DIR: ctx.dataDir, PUBLIC_URL: 'https://console.example.test', SESSION_SECRET: ctx.config.sessionSecret, ...ctx.databaseEnv },
    };
    const code = await resetFactorsCommand.run(args, io);
    return { code, stdout, stderr };
  }

  it('removes every authenticator app and recovery code of the user: audited as the CLI, mailed, and the password alone signs in', async () => {
    await enrolTotp(await signIn(ctx.app, admin.email), ctx.clock.now());
    await passwordStep(ctx.app, admin.email); // two steps before the reset

    const res = await run(['--email', 'Admin@Acme.test']);
    expect(res).toEqual({
      code: EXIT.ok,
      stdout: 'The second factors of admin@acme.test are reset: 1 authenticator app(s) and 0 passkey(s) removed, and the recovery codes.\n',
      stderr: '',
    });
    expect(await ctx.value('SELECT COUNT(*) FROM totp_factors WHERE user_id = ?', admin.userId)).toBe(0);
    expect(await ctx.value('SELECT COUNT(*) FROM recovery_codes WHERE user_id = ?', admin.userId)).toBe(0);
    expect(await ctx.query("SELECT actor, target FROM audit_log WHERE action = 'second_factor.reset'")).toEqual([
      { actor: 'operations CLI', target: 'admin@acme.test' },
    ]);
    expect(await ctx.column("SELECT subject FROM outbox WHERE to_address = 'admin@acme.test' ORDER BY id")).toEqual([
      'An authenticator app was added to your account',
      'The second factors of your account were reset',
    ]);
    await signIn(ctx.app, admin.email); // one step again
  });

  it('says so for an unknown address, and changes nothing', async () => {
    const res = await run(['--email', 'nobody@acme.test']);
    expect(res.code).toBe(EXIT.failure);
    expect(res.stderr).toMatch(/No account has the address nobody@acme\.test\./);
    expect(await ctx.value("SELECT COUNT(*) FROM audit_log WHERE action = 'second_factor.reset'")).toBe(0);
  });

  it('shows its usage, and refuses a missing --email with the usage exit code', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(EXIT.ok);
    expect(help.stdout).toMatch(/Usage: npm run cli -- reset-factors --email <address>/);
    const missing = await run([]);
    expect(missing.code).toBe(EXIT.usage);
    expect(missing.stderr).toMatch(/--email is required\./);
  });
});
