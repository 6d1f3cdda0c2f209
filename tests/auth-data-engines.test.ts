import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeClock, MINUTE } from '../src/clock';
import type { Database } from '../src/db/connect';
import * as authRepo from '../src/features/auth/repo';
import { SignInThrottle } from '../src/features/auth/service';
import * as companiesRepo from '../src/features/companies/repo';
import { createCompanyGrantingAllScopes } from '../src/features/companies/service';
import { sha256 } from '../src/crypto';
import { openTestDatabase } from './helpers';

/**
 * The auth and companies data layer on this run's engine, without the app (whose other modules still
 * need the SQLite handle): run with TEST_ENGINE=postgres too. What the HTTP tests check through pages,
 * here at the repo level: upserts, INSERT ... SELECT, case-insensitive emails, booleans, counts.
 */
describe('auth and companies data on both engines', () => {
  let database: Database;
  let close: () => Promise<void>;
  const now = Date.UTC(2026, 10, 1, 9, 0, 0);

  beforeEach(() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-auth-data-'));
    const { connection, drop } = openTestDatabase(path.join(dir, 'console.sqlite'));
    database = connection.db;
    close = async () => {
      await connection.close();
      drop();
      fs.rmSync(dir, { recursive: true, force: true });
    };
  });
  afterEach(() => close());

  it('creates a company granting every catalog scope, and users found by email in any case', async () => {
    const companyId = await createCompanyGrantingAllScopes({ db: database }, 'Acme', now);
    expect(await companiesRepo.listCompanyScopes(database, companyId)).toHaveLength(4);
    await companiesRepo.grantAllScopes(database, companyId); // again: nothing doubles
    expect(await companiesRepo.listCompanyScopes(database, companyId)).toHaveLength(4);
    expect(await companiesRepo.companyNameTaken(database, 'ACME')).toBe(true);

    const userId = await authRepo.createUser(database, { companyId, email: 'admin@acme.test', passwordHash: 'hash', isOperator: true }, now);
    await authRepo.createUser(database, { companyId, email: 'invited@acme.test', passwordHash: null, isOperator: false }, now);
    expect(await authRepo.findUserByEmail(database, 'ADMIN@Acme.test')).toEqual({
      id: userId,
      companyId,
      email: 'admin@acme.test',
      passwordHash: 'hash',
      isOperator: true,
      disabledAt: null,
    });
    expect(await authRepo.countUsers(database)).toBe(2);
    expect((await authRepo.listCompanyUsers(database, companyId)).map((u) => [u.email, u.isOperator, u.hasPassword])).toEqual([
      ['admin@acme.test', true, true],
      ['invited@acme.test', false, false],
    ]);
    expect(await authRepo.listCompanyRecipients(database, companyId)).toEqual(['admin@acme.test']);

    await createCompanyGrantingAllScopes({ db: database }, 'beta', now);
    expect((await companiesRepo.listCompanies(database)).map((c) => [c.name, c.userCount])).toEqual([
      ['Acme', 2],
      ['beta', 0],
    ]);
  });

  it('looks up the signed-in user, and not once disabled', async () => {
    const companyId = await createCompanyGrantingAllScopes({ db: database }, 'Acme', now);
    const userId = await authRepo.createUser(database, { companyId, email: 'admin@acme.test', passwordHash: 'hash', isOperator: false }, now);
    const lookup = authRepo.createSignedInUserLookup(database);
    expect(await lookup(userId)).toEqual({ id: userId, email: 'admin@acme.test', companyId, companyName: 'Acme', isOperator: false });
    await authRepo.setUserDisabled(database, userId, now);
    expect(await lookup(userId)).toBeUndefined();
  });

  it('keeps sessions: a deleted or expired one is never updated back', async () => {
    const sessions = authRepo.createSessionQueries(database);
    await sessions.insertSession('a', null, '{"n":1}', now + MINUTE);
    expect(await sessions.findSessionData('a', now)).toBe('{"n":1}');
    await sessions.updateLiveSession('a', null, '{"n":2}', now + 2 * MINUTE, now);
    await sessions.touchLiveSession('a', now + 3 * MINUTE, now);
    expect(await sessions.findSessionData('a', now + 2 * MINUTE + 1)).toBe('{"n":2}');
    expect(await sessions.findSessionData('a', now + 3 * MINUTE)).toBeUndefined();
    await sessions.deleteSession('a');
    await sessions.updateLiveSession('a', null, '{"n":3}', now + 5 * MINUTE, now);
    expect(await sessions.findSessionData('a', now)).toBeUndefined();
    await sessions.insertSession('old', null, '{}', now - 1);
    expect(await authRepo.countExpiredSessions(database, now)).toBe(1);
    expect(await sessions.deleteExpiredSessions(now)).toBe(1);
  });

  it('keeps settings and spends an invitation once', async () => {
    await authRepo.setSetting(database, 'k', 'one');
    await authRepo.setSetting(database, 'k', 'two');
    expect(await authRepo.getSetting(database, 'k')).toBe('two');
    await authRepo.deleteSetting(database, 'k');
    expect(await authRepo.getSetting(database, 'k')).toBeUndefined();

    const companyId = await createCompanyGrantingAllScopes({ db: database }, 'Acme', now);
    const userId = await authRepo.createUser(database, { companyId, email: 'new@acme.test', passwordHash: null, isOperator: false }, now);
    await authRepo.createInvitation(database, userId, sha256('first'), null, now, now + MINUTE);
    await authRepo.createInvitation(database, userId, sha256('second'), null, now, now + MINUTE);
    expect((await authRepo.findInvitationByHash(database, sha256('first')))?.usedAt).toBe(now); // the newer link replaced it
    const second = await authRepo.findInvitationByHash(database, sha256('second'));
    expect(second).toMatchObject({ userId, email: 'new@acme.test', companyId, usedAt: null, userDisabledAt: null });
    expect(await authRepo.markInvitationUsed(database, second!.id, now)).toBe(true);
    expect(await authRepo.markInvitationUsed(database, second!.id, now)).toBe(false);
  });

  it('lets exactly 5 of 25 parallel sign-in attempts on one account through the throttle, then tells the wait', async () => {
    const clock = new FakeClock(now);
    const throttle = new SignInThrottle(database, clock);
    const waits = await Promise.all(Array.from({ length: 25 }, () => throttle.reserve('203.0.113.9', 'admin@acme.test')));
    expect(waits.filter((w) => w === 0)).toHaveLength(5);
    expect(waits.filter((w) => w === 900)).toHaveLength(20);
    clock.advance(10 * MINUTE);
    expect(await throttle.reserve('203.0.113.9', 'admin@acme.test')).toBe(300);
    expect(await throttle.reserve('203.0.113.9', 'other@acme.test')).toBe(0); // the address has room left (6 of 20)
  });
});
