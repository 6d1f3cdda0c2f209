import request from 'supertest';
import { DAY, HOUR, MINUTE } from '../src/clock';
import { sha256 } from '../src/crypto';
import * as credentialsRepo from '../src/features/credentials/repo';
import type { CredentialKind } from '../src/features/credentials/repo';
import { createOperator } from '../src/ops/create-operator';
import { OpsError, UsageError } from '../src/ops/errors';
import { prune } from '../src/ops/prune';
import { resetPassword } from '../src/ops/reset-password';
import { PASSWORD, createTestContext, csrfFrom, seedCompany, signIn, queryValue, queryColumn } from './helpers';
import type { TestContext } from './helpers';

const NEW_PASSWORD = 'a brand new passphrase 42';

/** Follows a one-time link as the person would: open it, choose a password, land signed in. */
async function choosePassword(ctx: TestContext, link: string, password = NEW_PASSWORD) {
  const url = new URL(link);
  const agent = request.agent(ctx.app);
  const page = await agent.get(`${url.pathname}${url.search}`);
  expect(page.status).toBe(200);
  const token = url.searchParams.get('token')!;
  return agent
    .post('/invitation')
    .type('form')
    .send({ _csrf: csrfFrom(page.text), token, password, confirm: password });
}

describe('createOperator (npm run cli -- create-operator)', () => {
  let ctx: TestContext;
  const deps = () => ({ db: ctx.database, clock: ctx.clock, bcryptCost: 10, publicUrl: ctx.config.publicUrl });
  beforeEach(() => (ctx = createTestContext()));
  afterEach(() => ctx.close());

  it('creates the first operator on an empty database, with its company and a one-time link that works', async () => {
    const result = await createOperator(deps(), { email: ' Ops@Example.TEST ' });
    expect(result).toMatchObject({ companyName: 'Default company', companyCreated: true });
    expect(result.link).toMatch(/^http:\/\/127\.0\.0\.1:3000\/invitation\?token=[\w-]{40,}$/);
    const user = (await ctx.query('SELECT email, is_operator AS op, password_hash AS hash FROM users WHERE id = ?', result.userId))[0];
    expect(user).toEqual({ email: 'ops@example.test', op: 1, hash: null });

    const set = await choosePassword(ctx, result.link!);
    expect(set.status).toBe(303);
    const agent = await signIn(ctx.app, 'ops@example.test', NEW_PASSWORD);
    expect((await agent.get('/operator/companies')).status).toBe(200);
    const actions = await queryColumn(ctx, "SELECT action FROM audit_log WHERE actor = 'operations CLI' ORDER BY id");
    expect(actions).toEqual(['company.create', 'ops.create_operator']);
  });

  it('joins an existing company by name (any case), or the first company by default', async () => {
    const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    const byName = await createOperator(deps(), { email: 'one@ops.test', company: 'ACME' });
    expect(byName).toMatchObject({ companyId: acme.companyId, companyCreated: false });
    const byDefault = await createOperator(deps(), { email: 'two@ops.test' });
    expect(byDefault.companyId).toBe(acme.companyId);
    const created = await createOperator(deps(), { email: 'three@ops.test', company: 'Operators Ltd' });
    expect(created).toMatchObject({ companyName: 'Operators Ltd', companyCreated: true });
    expect(await queryValue(ctx, 'SELECT COUNT(*) FROM company_scopes WHERE company_id = ?', created.companyId)).toBe(4);
  });

  it('sets the password given on standard input instead of issuing a link', async () => {
    const result = await createOperator(deps(), { email: 'direct@ops.test', password: NEW_PASSWORD });
    expect(result.link).toBeUndefined();
    const agent = await signIn(ctx.app, 'direct@ops.test', NEW_PASSWORD);
    expect((await agent.get('/operator/companies')).status).toBe(200);
  });

  it('refuses an address that already has an account, and bad input, changing nothing', async () => {
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
    const users = () => queryValue(ctx, 'SELECT COUNT(*) FROM users');
    await expect(createOperator(deps(), { email: 'ADMIN@acme.test' })).rejects.toThrow(
      new OpsError('admin@acme.test already has an account. Use reset-password to give it a new password.'),
    );
    await expect(createOperator(deps(), { email: 'not an address' })).rejects.toThrow(UsageError);
    await expect(createOperator(deps(), { email: 'x@ops.test', password: 'short' })).rejects.toThrow(/password: Use at least 12 characters/);
    await expect(createOperator(deps(), { email: 'x@ops.test', password: 'é'.repeat(40) })).rejects.toThrow(/at most 72 bytes/);
    await expect(createOperator(deps(), { email: 'x@ops.test', company: 'Bad\u0000name' })).rejects.toThrow(/control characters/);
    expect(await users()).toBe(1);
  });
});

describe('resetPassword (npm run cli -- reset-password)', () => {
  let ctx: TestContext;
  const deps = () => ({ db: ctx.database, clock: ctx.clock, publicUrl: ctx.config.publicUrl });
  beforeEach(() => (ctx = createTestContext()));
  afterEach(() => ctx.close());

  it('prints a link that sets a new password; the old one works until then', async () => {
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
    const result = await resetPassword(deps(), 'Admin@Acme.test');
    expect(result).toMatchObject({ email: 'admin@acme.test', sessionsEnded: 0, expiresAt: ctx.clock.now() + 72 * HOUR });
    await signIn(ctx.app, 'admin@acme.test', PASSWORD); // still works

    expect((await choosePassword(ctx, result.link)).status).toBe(303);
    await expect(signIn(ctx.app, 'admin@acme.test', PASSWORD)).rejects.toThrow(/sign-in failed/);
    await signIn(ctx.app, 'admin@acme.test', NEW_PASSWORD);
    expect(await queryValue(ctx, "SELECT target FROM audit_log WHERE action = 'ops.reset_password'")).toBe('admin@acme.test');
  });

  it('a second reset makes the first link stop working', async () => {
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
    const first = await resetPassword(deps(), 'admin@acme.test');
    await resetPassword(deps(), 'admin@acme.test');
    const res = await request(ctx.app).get(new URL(first.link).pathname + new URL(first.link).search);
    expect(res.status).toBe(404);
  });

  it('--lock-now stops the current password and ends every session at once', async () => {
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
    const agent = await signIn(ctx.app, 'admin@acme.test');
    const result = await resetPassword(deps(), 'admin@acme.test', { lockNow: true });
    expect(result.sessionsEnded).toBe(1);
    expect((await agent.get('/audit')).status).toBe(303); // signed out
    await expect(signIn(ctx.app, 'admin@acme.test', PASSWORD)).rejects.toThrow(/sign-in failed/);
    expect((await choosePassword(ctx, result.link)).status).toBe(303);
  });

  it('says so for an unknown, a disabled or a malformed address', async () => {
    const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    await expect(resetPassword(deps(), 'nobody@acme.test')).rejects.toThrow(new OpsError('No account has the address nobody@acme.test.'));
    await ctx.query('UPDATE users SET disabled_at = 1 WHERE id = ?', acme.userId);
    await expect(resetPassword(deps(), 'admin@acme.test')).rejects.toThrow(/is disabled/);
    expect(() => resetPassword(deps(), '')).toThrow(UsageError);
    expect(await queryValue(ctx, 'SELECT COUNT(*) FROM invitations')).toBe(0);
  });
});

describe('prune (npm run cli -- prune)', () => {
  let ctx: TestContext;
  let companyId: number;
  let userId: number;
  beforeEach(async () => {
    ctx = createTestContext();
    ({ companyId, userId } = await seedCompany(ctx, 'Acme', 'admin@acme.test'));
  });
  afterEach(() => ctx.close());
  const pruneDeps = () => ({ db: ctx.database, clock: ctx.clock });

  let serial = 0;
  /** A credential row in the given state, created `ageMs` before now. */
  async function credential(
    status: credentialsRepo.CredentialStatus,
    ageMs: number,
    kind: CredentialKind = 'basic',
    replacesId: number | null = null,
  ): Promise<number> {
    const createdAt = ctx.clock.now() - ageMs;
    const id = await credentialsRepo.insertPendingCredential(ctx.database, {
      companyId,
      kind,
      identifier: kind === 'basic' ? 'acme-api' : `cxc_client${serial}`,
      secretPrefix: 'cxk_abcdef',
      secretHash: sha256(`secret-${serial++}`),
      scopes: '',
      replacesId,
      createdBy: userId,
      createdAt,
      expiresAt: createdAt + 30 * MINUTE,
    });
    if (status === 'expired') await credentialsRepo.endCredential(ctx.database, id, 'expired', createdAt + 30 * MINUTE);
    if (status !== 'pending' && status !== 'expired') {
      await ctx.query(
        'UPDATE credentials SET status = ?, saved_at = ?, saved_by = ?, expires_at = NULL, ended_at = ? WHERE id = ?',
        status,
        createdAt + MINUTE,
        userId,
        status === 'active' ? null : createdAt + 2 * MINUTE,
        id,
      );
    }
    return id;
  }
  const ids = () => ctx.column<number>('SELECT id FROM credentials ORDER BY id');

  it('deletes unsaved generations that lapsed long ago, expired sessions and (when asked) old audit entries; keeps the rest', async () => {
    const oldRetired = await credential('retired', 90 * DAY);
    const active = await credential('active', 60 * DAY);
    const oldExpired = await credential('expired', 45 * DAY, 'basic', active);
    const oldLapsedPending = await credential('pending', 40 * DAY);
    const recentExpired = await credential('expired', 5 * DAY);
    const freshPending = await credential('pending', 10 * MINUTE);
    const revokedClient = await credential('revoked', 50 * DAY, 'oauth');
    const now = ctx.clock.now();
    const session = 'INSERT INTO sessions (sid, user_id, data, expires_at) VALUES (?, ?, ?, ?)';
    await ctx.query(session, 'old', userId, '{}', now - 1);
    await ctx.query(session, 'live', userId, '{}', now + HOUR);
    for (const ageDays of [400, 200, 100, 10, 1])
      await ctx.query("INSERT INTO audit_log (at, actor, action) VALUES (?, 'someone', 'test.entry')", now - ageDays * DAY);
    const revoked = 'INSERT INTO revoked_tokens (jti, credential_id, expires_at, revoked_at) VALUES (?, ?, ?, ?)';
    await ctx.query(revoked, 'expired-jti', revokedClient, now - 1, now - HOUR);
    await ctx.query(revoked, 'live-jti', revokedClient, now + HOUR, now - HOUR);

    const dry = await prune(pruneDeps(), { auditDays: 180, dryRun: true });
    expect(dry).toEqual({ generations: 2, sessions: 1, auditEntries: 2, revokedTokens: 1, dryRun: true });
    expect(await ids()).toHaveLength(7);

    const result = await prune(pruneDeps(), { auditDays: 180 });
    expect(result).toEqual({ generations: 2, sessions: 1, auditEntries: 2, revokedTokens: 1, dryRun: false });
    expect(await ids()).toEqual([oldRetired, active, recentExpired, freshPending, revokedClient]);
    expect(await ctx.column('SELECT jti FROM revoked_tokens')).toEqual(['live-jti']);
    expect(await ids()).not.toContain(oldExpired);
    expect(await ids()).not.toContain(oldLapsedPending);
    expect(await ctx.column('SELECT sid FROM sessions')).toEqual(['live']);
    expect(await ctx.value("SELECT COUNT(*) FROM audit_log WHERE action = 'test.entry'")).toBe(3);
    const audited = (await ctx.value<string>("SELECT details FROM audit_log WHERE action = 'ops.prune'"))!;
    expect(JSON.parse(audited)).toMatchObject({ generations: 2, sessions: 1, auditEntries: 2, revokedTokens: 1, generationsDays: 30, auditDays: 180 });
    // The lapsed pending one was first marked expired by the same sweep the server runs, and audited as such.
    expect(await ctx.value("SELECT COUNT(*) FROM audit_log WHERE action = 'credential.expire'")).toBe(1);
  });

  it('keeps the whole audit trail unless --audit-days is given, and honours --generations-days', async () => {
    await credential('expired', 45 * DAY);
    await credential('expired', 5 * DAY);
    await ctx.query("INSERT INTO audit_log (at, actor, action) VALUES (0, 'someone', 'test.ancient')");
    expect(await prune(pruneDeps(), { generationsDays: 3 })).toMatchObject({ generations: 2, auditEntries: 0 });
    expect(await ctx.value("SELECT COUNT(*) FROM audit_log WHERE action = 'test.ancient'")).toBe(1);
  });

  it('refuses a retention that is not a whole number of days', async () => {
    await expect(prune(pruneDeps(), { auditDays: 0 })).rejects.toThrow(new UsageError('--audit-days must be a whole number of days, 1-36500.'));
    await expect(prune(pruneDeps(), { generationsDays: 1.5 })).rejects.toThrow(UsageError);
  });
});
