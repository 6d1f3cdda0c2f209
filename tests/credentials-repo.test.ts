import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { FakeClock } from '../src/clock';
import { skipped, transaction, transactionOnce } from '../src/db/connect';
import type { Connection, Database } from '../src/db/connect';
import { sha256 } from '../src/crypto';
import * as repo from '../src/features/credentials/repo';
import { generateApiKey, publicPrefix } from '../src/features/credentials/secrets';
import { CredentialVerifier, LastUsedTracker } from '../src/features/credentials/verify';
import { openTestDatabase, spyOnQueries } from './helpers';

/**
 * The credentials data layer on its own, on this run's engine (SQLite, or PostgreSQL with
 * TEST_ENGINE=postgres): no app, so it runs on PostgreSQL before the other modules have moved.
 */
describe('the credentials data layer', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'credentials-repo-'));
  const opened = openTestDatabase(path.join(dataDir, 'console.sqlite'));
  const db: Database = opened.connection.db;
  const clock = new FakeClock(Date.UTC(2026, 10, 1, 9, 0, 0));
  let companyId: number;

  afterAll(async () => {
    await opened.connection.close();
    opened.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** A company allowed `scopes`, written straight to the tables. */
  const company = async (name: string, scopes: string[]): Promise<number> => {
    const { id } = await db.insertInto('companies').values({ name, created_at: clock.now() }).returning('id').executeTakeFirstOrThrow();
    if (scopes.length)
      await db
        .insertInto('company_scopes')
        .values(scopes.map((scope) => ({ company_id: id, scope })))
        .execute();
    return id;
  };

  /** A new company (allowed claims:read and documents:read) whose active API key is `username`'s. */
  const activeKey = async (username: string): Promise<{ id: number; secret: string; owner: number }> => {
    const owner = await company(`Company of ${username}`, ['claims:read', 'documents:read']);
    const secret = generateApiKey();
    const id = await repo.insertPendingCredential(db, {
      companyId: owner,
      kind: 'basic',
      identifier: username,
      secretPrefix: publicPrefix(secret),
      secretHash: sha256(secret),
      scopes: 'claims:read claims:write',
      replacesId: null,
      createdBy: null,
      createdAt: clock.now(),
      expiresAt: clock.now() + 30 * 60_000,
    });
    await repo.activateCredential(db, id, null, clock.now());
    return { id, secret, owner };
  };

  beforeAll(async () => {
    companyId = await company('Acme', ['claims:read', 'documents:read']);
  });

  it('finds a working key by username with its company and the scopes the company may grant, in one query', async () => {
    const { id, secret, owner } = await activeKey('repo-user');
    const tracker = new LastUsedTracker(db);
    const verifier = new CredentialVerifier(db, clock, tracker);
    const queries = spyOnQueries(db);
    try {
      const check = await verifier.verifyApiKey('repo-user', secret);
      expect(queries.sqls()).toHaveLength(1);
      expect(check).toEqual({
        ok: true,
        // claims:write is on the key but no longer the company's to grant: it is left out.
        identity: { credentialId: id, companyId: owner, companyName: 'Company of repo-user', kind: 'basic', identifier: 'repo-user', scopes: ['claims:read'] },
      });
    } finally {
      queries.restore();
    }
  });

  it('tells a revoked key, a secret sent with another username and a guess apart', async () => {
    const { id, secret } = await activeKey('revoked-user');
    const verifier = new CredentialVerifier(db, clock, new LastUsedTracker(db));
    expect((await verifier.verifyApiKey('revoked-user', secret)).ok).toBe(true);
    await repo.revokeCredential(db, id, null, 'test', clock.now());
    expect(await verifier.verifyApiKey('revoked-user', secret)).toEqual({ ok: false, reason: 'ended', how: 'revoked', at: clock.now() });
    expect(await verifier.verifyApiKey('someone-else', secret)).toEqual({ ok: false, reason: 'mismatched' });
    expect(await verifier.verifyApiKey('revoked-user', generateApiKey())).toEqual({ ok: false, reason: 'unknown' });
    expect(await verifier.findWorkingClient(id)).toBeUndefined(); // an API key is never a token's client
  });

  it('holds usernames without case, and a second claim of a held username changes nothing', async () => {
    const other = await company('Globex', []);
    const { owner } = await activeKey('Case-User');
    await repo.claimUsername(db, 'Case-User', owner, clock.now());
    await repo.claimUsername(db, 'case-user', other, clock.now());
    expect(await repo.usernameOwner(db, 'CASE-USER')).toBe(owner);
    expect(await repo.holdsUsername(db, owner, 'case-USER', clock.now())).toBe(true);
    expect(await repo.holdsUsername(db, other, 'case-user', clock.now())).toBe(false);
    await repo.releaseUsername(db, 'CASE-user', owner);
    expect(await repo.usernameOwner(db, 'case-user')).toBeUndefined();
  });

  it('counts live clients by whole scope words, not parts of them', async () => {
    const id = await repo.insertPendingCredential(db, {
      companyId,
      kind: 'oauth',
      identifier: 'cxc_scopes',
      secretPrefix: 'cxs_scopes',
      secretHash: sha256('scopes-client'),
      scopes: 'claims:read documents:read',
      replacesId: null,
      createdBy: null,
      createdAt: clock.now(),
      expiresAt: clock.now() + 60_000,
    });
    expect(await repo.countLiveCredentialsWithScope(db, 'claims:read')).toBe(1);
    expect(await repo.countLiveCredentialsWithScope(db, 'claims')).toBe(0);
    await repo.revokeCredential(db, id, null, 'test', clock.now());
    expect(await repo.countLiveCredentialsWithScope(db, 'claims:read')).toBe(0);
  });

  it('sees lapsed generations, and counts and deletes only unsaved ones that lapsed before the cutoff', async () => {
    const co = await company('Lapses', []);
    const pending = await repo.insertPendingCredential(db, {
      companyId: co,
      kind: 'basic',
      identifier: 'lapsing-user',
      secretPrefix: 'cxk_lapsin',
      secretHash: sha256('lapsing'),
      scopes: '',
      replacesId: null,
      createdBy: null,
      createdAt: clock.now(),
      expiresAt: clock.now() + 1000,
    });
    expect(await repo.hasLapsedCredentials(db, clock.now())).toBe(false);
    expect(await repo.hasLapsedCredentials(db, clock.now() + 1000)).toBe(true);
    expect((await repo.listLapsedPending(db, clock.now() + 1000)).map((c) => c.id)).toEqual([pending]);
    expect(await repo.countUnsavedCredentials(db, co, 'basic', clock.now())).toEqual({ count: 1, firstExpiry: clock.now() + 1000 });
    await repo.endCredential(db, pending, 'expired', clock.now() + 1000);
    expect(await repo.hasLapsedCredentials(db, clock.now() + 1000)).toBe(false);
    expect(await repo.countDeadGenerations(db, clock.now() + 1000)).toBe(0);
    expect(await repo.countDeadGenerations(db, clock.now() + 1001)).toBe(1);
    expect(await repo.deleteDeadGenerations(db, clock.now() + 1001)).toBe(1);
    expect(await repo.findCredentialById(db, pending)).toBeUndefined();
  });

  // A Kysely transaction inside one the SQLite handle already has open (unconverted modules, tests that roll
  // a case back) is a savepoint of it: it neither fails to begin nor outlives the outer rollback.
  (opened.connection.engine === 'sqlite' ? it : it.skip)('joins a transaction the SQLite handle has open, as a savepoint', async () => {
    const raw = opened.connection.sqlite!;
    const count = async () =>
      (
        await db
          .selectFrom('companies')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n;
    const before = await count();
    raw.exec('BEGIN');
    try {
      await transaction(db, async (trx) => {
        await trx.insertInto('companies').values({ name: 'Inside', created_at: clock.now() }).execute();
      });
      await expect(
        transaction(db, async (trx) => {
          await trx.insertInto('companies').values({ name: 'Rolled back', created_at: clock.now() }).execute();
          throw new Error('undo');
        }),
      ).rejects.toThrow('undo');
      expect(await count()).toBe(before + 1);
    } finally {
      raw.exec('ROLLBACK');
    }
    expect(await count()).toBe(before);
  });

  describe('across two processes on the same database', () => {
    let another: Connection;
    beforeAll(() => {
      another = opened.another();
    });
    afterAll(() => another.close());

    it('never moves a last-used time back, whichever process flushes last', async () => {
      const { id } = await activeKey('last-used-user');
      const here = new LastUsedTracker(db);
      const there = new LastUsedTracker(another.db);
      here.touch(id, 2000);
      there.touch(id, 1000);
      expect(await here.flush()).toBe(1);
      expect(await there.flush()).toBe(1);
      expect((await repo.findCredentialById(db, id))?.lastUsedAt).toBe(2000);
      there.touch(id, 3000);
      await there.flush();
      expect((await repo.findCredentialById(db, id))?.lastUsedAt).toBe(3000);
    });

    it('runs a background job in one process at a time: on PostgreSQL another process skips it while it runs', async () => {
      const JOB = 12345;
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      const first = transactionOnce(db, JOB, async () => {
        started();
        await held;
        return 'first';
      });
      await running;
      if (opened.connection.engine === 'postgres') {
        expect(await transactionOnce(another.db, JOB, () => Promise.resolve('second'))).toBe(skipped);
        release();
        expect(await first).toBe('first');
        // Once the first run ended, the job is free again.
        expect(await transactionOnce(another.db, JOB, () => Promise.resolve('third'))).toBe('third');
      } else {
        // SQLite has no skipping: BEGIN IMMEDIATE makes the next writer wait (here, in one process, a
        // second writer would block the event loop the first needs to finish, so it starts after).
        release();
        expect(await first).toBe('first');
        expect(await transactionOnce(another.db, JOB, async (trx) => (await sql<{ n: number }>`select 1 as n`.execute(trx)).rows[0].n)).toBe(1);
      }
    });
  });
});
