import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeClock } from '../src/clock';
import { sha256 } from '../src/crypto';
import { isUniqueViolation } from '../src/db/connect';
import type { Connection, Database } from '../src/db/connect';
import * as auditRepo from '../src/features/audit/repo';
import { AuditLog, SYSTEM_ACTOR } from '../src/features/audit/service';
import * as docsRepo from '../src/features/docs-access/repo';
import * as mailRepo from '../src/features/mail/repo';
import * as scopesRepo from '../src/features/scopes/repo';
import { openTestDatabase } from './helpers';

// The audit, scope, documentation-access and outbox repos straight on the database, without the app:
// what differs between SQLite and PostgreSQL (LIKE and its escapes, case-insensitive addresses, counts,
// returned ids, bytes) is checked here on whichever engine TEST_ENGINE names.

describe('the audit, scopes, docs-access and outbox repos on this engine', () => {
  const clock = new FakeClock(Date.UTC(2026, 10, 1, 9, 0, 0));
  let dataDir: string;
  let connection: Connection;
  let drop: () => void;
  let db: Database;
  let acmeId: number;
  let globexId: number;
  let adminId: number;

  const company = async (name: string): Promise<number> =>
    (await db.insertInto('companies').values({ name, created_at: clock.now() }).returning('id').executeTakeFirstOrThrow()).id;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-test-'));
    ({ connection, drop } = openTestDatabase(path.join(dataDir, 'console.db')));
    db = connection.db;
    acmeId = await company('Acme');
    globexId = await company('Globex');
    adminId = (
      await db
        .insertInto('users')
        .values({ company_id: acmeId, email: 'admin@acme.test', password_hash: null, created_at: clock.now() })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
  });
  afterAll(async () => {
    await connection.close();
    drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  describe('audit_log', () => {
    beforeAll(async () => {
      const log = new AuditLog(db, clock);
      for (const [action, companyId] of [
        ['credential.save', acmeId],
        ['credential.save.early', acmeId],
        ['credentials.other', acmeId],
        ['a_b', acmeId],
        ['a_b.child', globexId],
        ['axb.child', acmeId],
      ] as const) {
        clock.advance(1000);
        await log.record(SYSTEM_ACTOR, { action, companyId, target: action });
      }
    });

    it('filters an action with its dotted children only, taking _ and % literally', async () => {
      const targets = async (action: string) => (await auditRepo.listAuditEntries(db, { action }, 50, 0)).map((e) => e.target);
      expect(await targets('credential')).toEqual(['credential.save.early', 'credential.save']);
      expect(await targets('a_b')).toEqual(['a_b.child', 'a_b']);
      expect(await targets('a%')).toEqual([]);
      expect(await auditRepo.countAuditEntries(db, { action: 'a_b' })).toBe(2);
      expect(await auditRepo.countAuditEntries(db, { action: 'a_b', companyId: acmeId })).toBe(1);
    });

    it('lists rows with their company, counts as numbers, and exports the same rows', async () => {
      const [newest] = await auditRepo.listAuditEntries(db, { companyId: acmeId }, 1, 0);
      expect(newest).toMatchObject({ companyName: 'Acme', companyId: acmeId, actor: 'system', action: 'axb.child', actorUserId: null, details: null });
      expect(typeof newest.id).toBe('number');
      expect(typeof newest.at).toBe('number');
      const exported: auditRepo.AuditRow[] = [];
      for await (const row of auditRepo.iterateAuditEntries(db, { companyId: acmeId })) exported.push(row);
      expect(exported).toEqual(await auditRepo.listAuditEntries(db, { companyId: acmeId }, 50, 0));
      expect(await auditRepo.listAuditActions(db, globexId)).toEqual(['a_b.child']);
    });

    it('counts and deletes entries before a cutoff', async () => {
      const cutoff = clock.now() - 1500; // one a second: the two newest stay
      expect(await auditRepo.countAuditEntriesBefore(db, cutoff)).toBe(4);
      expect(await auditRepo.deleteAuditEntriesBefore(db, cutoff)).toBe(4);
      expect(await auditRepo.countAuditEntries(db, {})).toBe(2);
    });
  });

  describe('scopes', () => {
    it('counts the companies allowed each scope, as numbers', async () => {
      await scopesRepo.insertScope(db, 'test:scope', 'A scope for this test', clock.now());
      await db
        .insertInto('company_scopes')
        .values([
          { company_id: acmeId, scope: 'test:scope' },
          { company_id: globexId, scope: 'test:scope' },
        ])
        .execute();
      const entry = (await scopesRepo.listScopeCatalog(db)).find((s) => s.name === 'test:scope');
      expect(entry).toEqual({ name: 'test:scope', description: 'A scope for this test', createdAt: clock.now(), companyCount: 2 });
      expect(await scopesRepo.listCompanyScopeDetails(db, acmeId)).toContainEqual({ name: 'test:scope', description: 'A scope for this test' });
    });
  });

  describe('access_requests and docs_links', () => {
    let requestId: number;

    beforeAll(async () => {
      requestId = await docsRepo.insertAccessRequest(db, acmeId, 'Dev.Lead@acme.test', adminId, clock.now());
    });

    it('finds an open request whatever the case of the address, and refuses a second one as a unique violation', async () => {
      expect(await docsRepo.findOpenAccessRequest(db, acmeId, 'dev.lead@ACME.test')).toMatchObject({
        id: requestId,
        companyName: 'Acme',
        requestedBy: 'admin@acme.test',
        status: 'pending',
      });
      const refused: unknown = await docsRepo.insertAccessRequest(db, acmeId, 'dev.lead@acme.test', adminId, clock.now()).catch((err: unknown) => err);
      expect(isUniqueViolation(refused)).toBe(true);
    });

    it('filters by part of the address without case, taking % and _ literally', async () => {
      expect((await docsRepo.listAccessRequests(db, { email: 'LEAD@' }, 10, 0)).map((r) => r.id)).toEqual([requestId]);
      expect(await docsRepo.countAccessRequests(db, { email: 'dev%' })).toBe(0);
      expect(await docsRepo.countAccessRequests(db, { email: 'dev_lead' })).toBe(0);
      expect(await docsRepo.countPendingAccessRequests(db)).toBe(1);
    });

    it('decides once, and finds a link by the SHA-256 of its token', async () => {
      expect(await docsRepo.decideAccessRequest(db, requestId, 'granted', adminId, null, clock.now())).toBe(true);
      expect(await docsRepo.decideAccessRequest(db, requestId, 'denied', adminId, null, clock.now())).toBe(false);
      expect(await docsRepo.emailHasGrant(db, 'DEV.LEAD@acme.test')).toBe(true);
      const linkId = await docsRepo.insertDocsLink(db, requestId, sha256('the-token'), clock.now(), clock.now() + 1000);
      expect(await docsRepo.findDocsLinkByHash(db, sha256('the-token'))).toEqual({
        id: linkId,
        requestId,
        companyId: acmeId,
        email: 'Dev.Lead@acme.test',
        requestStatus: 'granted',
        expiresAt: clock.now() + 1000,
        revokedAt: null,
      });
      expect(await docsRepo.findDocsLinkByHash(db, sha256('another-token'))).toBeUndefined();
      expect(await docsRepo.revokeDocsLinks(db, requestId, clock.now())).toBe(1);
      expect(await docsRepo.revokeDocsLinks(db, requestId, clock.now())).toBe(0);
    });
  });

  describe('outbox', () => {
    it('stores, lists, counts and requeues messages', async () => {
      const message = { companyId: acmeId, to: 'admin@acme.test', subject: 'Hello', text: 'Hi', html: null, kind: 'test', secrets: ['s3cret'] };
      const id = await mailRepo.insertOutboxMessage(db, { ...message, state: 'queued', now: clock.now() });
      expect(await mailRepo.findOutboxMessage(db, id)).toMatchObject({
        id,
        companyName: 'Acme',
        to: 'admin@acme.test',
        state: 'queued',
        attempts: 0,
        nextAttemptAt: clock.now(),
        secrets: '["s3cret"]',
      });
      expect(await mailRepo.requeueOutboxMessage(db, id, clock.now())).toBe(false); // only failed or kept ones
      await mailRepo.markOutboxAttemptFailed(db, id, '550 no such mailbox', null);
      expect(await mailRepo.findOutboxMessage(db, id)).toMatchObject({ state: 'failed', attempts: 1, lastError: '550 no such mailbox', nextAttemptAt: null });
      expect(await mailRepo.requeueOutboxMessage(db, id, clock.now())).toBe(true);
      await mailRepo.markOutboxSent(db, id, clock.now(), '<id@test>', 'Hi', null);
      expect(await mailRepo.findOutboxMessage(db, id)).toMatchObject({ state: 'sent', attempts: 1, messageId: '<id@test>', secrets: null });
      expect(await mailRepo.countOutboxMessages(db, { state: 'sent', kind: 'test' })).toBe(1);
      expect((await mailRepo.listOutboxMessages(db, { kind: 'test' }, 10, 0)).map((m) => m.id)).toEqual([id]);
      expect(await mailRepo.listOutboxKinds(db)).toEqual(['test']);
    });
  });
});
