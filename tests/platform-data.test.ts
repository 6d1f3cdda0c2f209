import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeClock, MINUTE } from '../src/clock';
import type { Connection, Database } from '../src/db/connect';
import type { Actor, AuditEvent, AuditLog } from '../src/features/audit/service';
import { AuthFailures } from '../src/platform/failures';
import { countExpiredRevokedTokens, insertRevokedToken, pruneRevokedTokens, tokenStateReader } from '../src/platform/oauth/repo';
import { PUBLISH_MARGIN_MS, SigningKeys, sealingKey } from '../src/platform/signing-keys/service';
import { openTestDatabase } from './helpers';

/**
 * The platform API's tables and throttle through its services and repos alone, without the app (whose
 * other modules still need SQLite), so this runs on PostgreSQL too. Two connections stand for two
 * replicas on one database: what one writes, the other must honour on its next read.
 */

const TTL_MS = 3600 * 1000;
const SEAL = sealingKey('test-session-secret-that-is-long-enough-0123456789');
const SYSTEM: Actor = { userId: null, label: 'system', ip: null, userAgent: null };

/** Records what would be audited; the audit log itself is another module's (and still SQLite-only). */
function recordingAudit(): AuditLog & { events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return { events, record: (_actor: Actor, event: AuditEvent) => void events.push(event) } as unknown as AuditLog & { events: AuditEvent[] };
}

interface TwoReplicas {
  clock: FakeClock;
  one: Database;
  two: Database;
  close(): Promise<void>;
}

function openTwoReplicas(): TwoReplicas {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-platform-'));
  const { connection, another, drop } = openTestDatabase(path.join(dir, 'console.sqlite'));
  const second: Connection = another();
  return {
    clock: new FakeClock(Date.UTC(2026, 10, 1, 9, 0, 0)),
    one: connection.db,
    two: second.db,
    close: async () => {
      await second.close();
      await connection.close();
      drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const keysOn = (db: Database, clock: FakeClock, audit = recordingAudit()) => new SigningKeys(db, clock, TTL_MS, SEAL, audit);

describe('signing keys across replicas (src/platform/signing-keys)', () => {
  let r: TwoReplicas;
  beforeEach(() => {
    r = openTwoReplicas();
  });
  afterEach(() => r.close());

  it('creates one active key on first start; a second replica starting finds it and creates none', async () => {
    await keysOn(r.one, r.clock).ensureActive();
    await keysOn(r.two, r.clock).ensureActive();
    const rows = await r.one.selectFrom('signing_keys').select(['kid', 'status', 'token_ttl_ms']).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'active', token_ttl_ms: TTL_MS });
  });

  it('raises the recorded token lifetime for a server that signs longer tokens, and never lowers it', async () => {
    await keysOn(r.one, r.clock).ensureActive();
    await new SigningKeys(r.two, r.clock, 2 * TTL_MS, SEAL, recordingAudit()).ensureActive();
    await new SigningKeys(r.one, r.clock, TTL_MS / 2, SEAL, recordingAudit()).ensureActive();
    const row = await r.one.selectFrom('signing_keys').select('token_ttl_ms').executeTakeFirstOrThrow();
    expect(row.token_ttl_ms).toBe(2 * TTL_MS);
  });

  it("signs with another replica's new key from the next token, and publishes both keys everywhere", async () => {
    const one = keysOn(r.one, r.clock);
    const two = keysOn(r.two, r.clock);
    await one.ensureActive();
    const before = await two.currentSigner();
    const audit = recordingAudit();
    const result = await keysOn(r.one, r.clock, audit).rotate(SYSTEM);

    expect(result.previousKid).toBe(before.kid);
    expect(result.previousPublishedUntil).toBe(r.clock.now() + TTL_MS + PUBLISH_MARGIN_MS);
    expect((await two.currentSigner()).kid).toBe(result.kid);
    expect((await two.jwks()).keys.map((k) => k.kid)).toEqual([result.kid, before.kid]);
    expect(await two.acceptedUntil(result.kid)).toBe(Infinity);
    expect(await two.acceptedUntil(before.kid)).toBe(result.previousPublishedUntil);
    expect(audit.events).toEqual([expect.objectContaining({ action: 'signing_key.rotate', target: result.kid })]);

    // Past its publish window the old key is out on every replica.
    r.clock.advance(TTL_MS + PUBLISH_MARGIN_MS);
    expect(await one.acceptedUntil(before.kid)).toBeUndefined();
    expect((await two.jwks()).keys.map((k) => k.kid)).toEqual([result.kid]);
  });

  it('retires at once with retireNow: the other replica refuses the old key on its next read', async () => {
    const two = keysOn(r.two, r.clock);
    await keysOn(r.one, r.clock).ensureActive();
    const first = await two.currentSigner();
    r.clock.advance(1000);
    await keysOn(r.one, r.clock).rotate(SYSTEM); // an ordinary rotation: `first` stays published
    const second = await two.currentSigner();
    expect(await two.acceptedUntil(first.kid)).toBeGreaterThan(r.clock.now());

    r.clock.advance(1000);
    const result = await keysOn(r.one, r.clock).rotate(SYSTEM, { retireNow: true });
    expect(result.previousKid).toBe(second.kid);
    expect(result.unpublishedKids).toEqual([first.kid]);
    expect(await two.acceptedUntil(first.kid)).toBeUndefined();
    expect(await two.acceptedUntil(second.kid)).toBeUndefined();
    expect((await two.jwks()).keys.map((k) => k.kid)).toEqual([result.kid]);
    const listed = await two.list();
    expect(listed.map((k) => [k.kid, k.status, k.published, k.retiredAtOnce])).toEqual([
      [result.kid, 'active', true, false],
      [second.kid, 'retired', false, true],
      [first.kid, 'retired', false, true],
    ]);
  });

  it('lists keys made in the same millisecond newest first, without relying on SQLite row order', async () => {
    const keys = keysOn(r.one, r.clock);
    await keys.ensureActive();
    const a = (await keys.currentSigner()).kid;
    r.clock.advance(1000);
    const b = (await keys.rotate(SYSTEM)).kid;
    const c = (await keys.rotate(SYSTEM)).kid; // same instant as b's retirement
    expect((await keys.list()).map((k) => k.kid)).toEqual([c, b, a]);
    expect((await keys.list(2)).map((k) => k.kid)).toEqual([c, b]);
  });

  it('starts afresh with a new key when the table was emptied by hand', async () => {
    const keys = keysOn(r.one, r.clock);
    await keys.ensureActive();
    const before = (await keys.currentSigner()).kid;
    await r.two.deleteFrom('signing_keys').execute();
    const after = await keys.currentSigner();
    expect(after.kid).not.toBe(before);
    expect(await keys.acceptedUntil(before)).toBeUndefined();
    expect(await keys.acceptedUntil(after.kid)).toBe(Infinity);
  });

  it('knows the public key of a kid it never had only by asking the database, and never for a kid of the wrong shape', async () => {
    const one = keysOn(r.one, r.clock);
    await one.ensureActive();
    const two = keysOn(r.two, r.clock);
    const kid = (await one.currentSigner()).kid;
    expect(await two.verificationKey(kid)).toBeDefined();
    expect(await two.verificationKey(crypto.randomBytes(32).toString('base64url').slice(0, 43))).toBeUndefined();
    expect(await two.verificationKey('short')).toBeUndefined();
  });
});

describe('revoked tokens across replicas (src/platform/oauth/repo.ts)', () => {
  let r: TwoReplicas;
  let credentialId: number;
  beforeEach(async () => {
    r = openTwoReplicas();
    const company = await r.one.insertInto('companies').values({ name: 'Acme', created_at: r.clock.now() }).returning('id').executeTakeFirstOrThrow();
    const credential = await r.one
      .insertInto('credentials')
      .values({
        company_id: company.id,
        kind: 'oauth',
        identifier: 'client-1',
        secret_prefix: 'x',
        secret_hash: Buffer.alloc(32),
        status: 'active',
        replaces_id: null,
        created_by: null,
        created_at: r.clock.now(),
        expires_at: null,
        saved_by: null,
        saved_at: null,
        retires_at: null,
        ended_at: null,
        revoked_by: null,
        revoke_reason: null,
        last_used_at: null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    credentialId = credential.id;
  });
  afterEach(() => r.close());

  it('is seen by the other replica at once; revoking twice keeps one row', async () => {
    const readThere = tokenStateReader(r.two);
    const isRevokedThere = async (jti: string) => (await readThere('', '', jti, 0)).revoked;
    const now = r.clock.now();
    expect(await isRevokedThere('jti-1')).toBe(false);
    await insertRevokedToken(r.one, 'jti-1', credentialId, now + MINUTE, now);
    await insertRevokedToken(r.one, 'jti-1', credentialId, now + MINUTE, now + 1);
    expect(await isRevokedThere('jti-1')).toBe(true);
    expect(await isRevokedThere('jti-2')).toBe(false);
    const rows = await r.two.selectFrom('revoked_tokens').select(['jti', 'revoked_at']).execute();
    expect(rows).toEqual([{ jti: 'jti-1', revoked_at: now }]);
  });

  it('counts and prunes only the revocations whose tokens have expired', async () => {
    const now = r.clock.now();
    await insertRevokedToken(r.one, 'expired', credentialId, now - 1, now - MINUTE);
    await insertRevokedToken(r.one, 'expires-now', credentialId, now, now - MINUTE);
    await insertRevokedToken(r.one, 'live', credentialId, now + 1, now - MINUTE);
    expect(await countExpiredRevokedTokens(r.two, now)).toBe(2);
    expect(await pruneRevokedTokens(r.two, now)).toBe(2);
    expect(await countExpiredRevokedTokens(r.one, now)).toBe(0);
    expect((await r.one.selectFrom('revoked_tokens').select('jti').execute()).map((row) => row.jti)).toEqual(['live']);
  });
});

describe('failed authentication throttle across replicas (src/platform/failures.ts)', () => {
  let r: TwoReplicas;
  beforeEach(() => {
    r = openTwoReplicas();
  });
  afterEach(() => r.close());

  it('counts failures from both replicas into one window per source, blocks on both past the limit, and forgives after it', async () => {
    const limits = { perSource: 4, windowMs: MINUTE };
    const one = new AuthFailures(r.one, r.clock, limits);
    const two = new AuthFailures(r.two, r.clock, limits);
    await one.record('203.0.113.9');
    await two.record('203.0.113.9');
    await one.record('203.0.113.9');
    expect(await one.retryAfter('203.0.113.9')).toBe(0);
    expect(await two.retryAfter('203.0.113.9')).toBe(0);

    r.clock.advance(15_000);
    await two.record('203.0.113.9'); // the fourth, on the other replica
    expect(await one.retryAfter('203.0.113.9')).toBe(45);
    expect(await two.retryAfter('203.0.113.9')).toBe(45);
    expect(await one.retryAfter('198.51.100.7')).toBe(0); // other addresses are not held back

    r.clock.advance(45_000);
    expect(await one.retryAfter('203.0.113.9')).toBe(0);
    r.clock.advance(1);
    await one.record('203.0.113.9'); // a new window: one failure in it
    expect(await two.retryAfter('203.0.113.9')).toBe(0);
  });

  it("deletes its ended windows now and then, and never another throttle's", async () => {
    const failures = new AuthFailures(r.one, r.clock, { perSource: 30, windowMs: MINUTE });
    await failures.record('203.0.113.1');
    await r.one.insertInto('throttle_windows').values({ key: 'sign-in:ip:203.0.113.1', window_start: r.clock.now(), count: 1 }).execute();
    r.clock.advance(MINUTE + 1);
    await failures.record('203.0.113.2'); // a window later: the first address's window has ended
    const keys = (await r.two.selectFrom('throttle_windows').select('key').orderBy('key').execute()).map((row) => row.key);
    expect(keys).toEqual(['platform-api:source:203.0.113.2', 'sign-in:ip:203.0.113.1']);
  });

  it('rounds a part of a second up, as Retry-After must not invite a retry too early', async () => {
    const failures = new AuthFailures(r.one, r.clock, { perSource: 1, windowMs: MINUTE });
    await failures.record('203.0.113.9');
    r.clock.advance(500);
    expect(await failures.retryAfter('203.0.113.9')).toBe(60);
  });
});
