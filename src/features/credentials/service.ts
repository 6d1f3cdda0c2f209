import type { Database } from '../../db/connect';
import { skipped, transactionOnce, transaction } from '../../db/connect';
import type { Clock } from '../../clock';
import { DAY, HOUR, MINUTE } from '../../clock';
import { sha256 } from '../../crypto';
import { FieldError, HttpError, notFound, tooManyRequests } from '../../http/errors';
import type { Actor, AuditLog } from '../audit/service';
import { SYSTEM_ACTOR } from '../audit/service';
import { CREDENTIAL_LIFETIME_DAYS, findMaxCredentialLifetime, listCompanyScopes } from '../companies/service';
import type { CredentialLifetimeDays } from '../companies/service';
import type { Mailer } from '../mail/service';
import { notifyCompanyAdmins } from '../mail/service';
import * as repo from './repo';
import type { CredentialKind, CredentialRow } from './repo';
import { generateApiKey, generateClientId, generateClientSecret, publicPrefix } from './secrets';

/** An unsaved generation never works and lapses after this long. */
export const PENDING_TTL_MS = 30 * MINUTE;

/**
 * How many unsaved generations of one kind (Basic Auth keys, OAuth clients) a company may hold at once.
 * Each is a row, and for Basic Auth a username claim, that nobody can use: without a cap one
 * administrator could fill the database and hold usernames for as long as they keep generating.
 */
export const MAX_UNSAVED_PER_KIND = 5;

/** How long the replaced credential keeps working after Save. 'none' is the seed's behaviour. */
export const OVERLAPS = { none: 0, '1h': HOUR, '24h': DAY, '7d': 7 * DAY } as const;
export type Overlap = keyof typeof OVERLAPS;

/** A lifetime chosen at Save: days, null for "never expires", undefined for the company's default (see lifetimeDefault). */
export type Lifetime = CredentialLifetimeDays | null | undefined;

/** Days before its expiry when a credential's administrators are warned by mail, ascending. */
export const EXPIRY_WARNING_DAYS = [1, 7, 14] as const;

export interface CredentialsDeps {
  db: Database;
  clock: Clock;
  audit: AuditLog;
  mailer: Mailer;
  /** For the link to the API page in notifications. */
  publicUrl?: string;
}

export interface Generated {
  credential: CredentialRow;
  /** The plaintext: returned once, to the response of the generating POST. Never stored or logged. */
  secret: string;
}

/** Generates a Basic Auth API key for `username`. It works only after Save. */
export async function generateApiKeyFor(deps: CredentialsDeps, companyId: number, username: string, actor: Actor): Promise<Generated> {
  return transaction(deps.db, async (trx) => {
    const now = deps.clock.now();
    await assertRoomForUnsaved(trx, companyId, 'basic', now);
    const owner = await repo.usernameOwner(trx, username);
    if (owner !== undefined && owner !== companyId) {
      if (await repo.holdsUsername(trx, owner, username, now)) {
        throw new FieldError('username', 'This username is already used by another company. Choose a different one.');
      }
      // The other company only generated keys under it and saved none before they lapsed: its claim lapsed with them.
      await repo.releaseUsername(trx, username, owner);
    }
    await repo.claimUsername(trx, username, companyId, now);
    const scopes = await listCompanyScopes({ db: trx }, companyId);
    return insertPending({ ...deps, db: trx }, companyId, 'basic', username, generateApiKey(), scopes, actor);
  });
}

/** Generates OAuth 2.0 client credentials (a new Client ID and secret) with `scopes`, a subset of the company's. */
export async function generateClientCredentials(deps: CredentialsDeps, companyId: number, scopes: string[] | undefined, actor: Actor): Promise<Generated> {
  return transaction(deps.db, async (trx) => {
    await assertRoomForUnsaved(trx, companyId, 'oauth', deps.clock.now());
    const allowed = await listCompanyScopes({ db: trx }, companyId);
    const chosen = scopes === undefined ? allowed : [...new Set(scopes)].sort();
    const notAllowed = chosen.filter((s) => !allowed.includes(s));
    if (notAllowed.length) throw new FieldError('scopes', `Your company may not grant: ${notAllowed.slice(0, 5).join(', ')}.`);
    if (chosen.length === 0) throw new FieldError('scopes', 'Choose at least one scope.');
    return insertPending({ ...deps, db: trx }, companyId, 'oauth', generateClientId(), generateClientSecret(), chosen, actor);
  });
}

/** Refuses a generation (429) while the company holds MAX_UNSAVED_PER_KIND unsaved ones of this kind. */
async function assertRoomForUnsaved(db: Database, companyId: number, kind: CredentialKind, now: number): Promise<void> {
  const unsaved = await repo.countUnsavedCredentials(db, companyId, kind, now);
  if (unsaved.count < MAX_UNSAVED_PER_KIND) return;
  throw tooManyRequests(
    ((unsaved.firstExpiry ?? now + PENDING_TTL_MS) - now) / 1000,
    `You have ${unsaved.count} unsaved credentials; save or wait for them to expire (${PENDING_TTL_MS / MINUTE} minutes) before generating another.`,
  );
}

/** Inside the generating transaction: `deps.db` is that transaction. */
async function insertPending(
  deps: CredentialsDeps,
  companyId: number,
  kind: CredentialKind,
  identifier: string,
  secret: string,
  scopes: string[],
  actor: Actor,
): Promise<Generated> {
  const now = deps.clock.now();
  const active = await repo.findActiveCredential(deps.db, companyId, kind);
  const id = await repo.insertPendingCredential(deps.db, {
    companyId,
    kind,
    identifier,
    secretPrefix: publicPrefix(secret),
    secretHash: sha256(secret),
    scopes: scopes.join(' '),
    replacesId: active?.id ?? null,
    createdBy: actor.userId,
    createdAt: now,
    expiresAt: now + PENDING_TTL_MS,
    // A new generation keeps the allowlist of the credential it replaces: a rotation opens no address.
    allowedRanges: active?.allowedRanges ?? '',
  });
  await deps.audit.record(
    actor,
    { action: 'credential.generate', companyId, target: identifier, details: { kind, credentialId: id, prefix: publicPrefix(secret) } },
    deps.db,
  );
  return { credential: (await repo.findCompanyCredential(deps.db, companyId, id))!, secret };
}

export type SaveResult =
  | { ok: true; credential: CredentialRow; replaced?: CredentialRow }
  | { ok: false; reason: 'expired' | 'superseded' | 'already_saved' | 'ended'; message: string };

/**
 * Save: the generated credential becomes the active one and, in the same transaction, the previous
 * active one stops working now (overlap 'none') or at the end of the chosen window. Compare-and-swap
 * on the credential that was active when this one was generated: of two racing Saves exactly one wins.
 */
export async function saveCredential(
  deps: CredentialsDeps,
  companyId: number,
  kind: CredentialKind,
  id: number,
  overlap: Overlap,
  actor: Actor,
  lifetime?: Lifetime,
): Promise<SaveResult> {
  const result = await transaction(deps.db, async (trx): Promise<SaveResult> => {
    const now = deps.clock.now();
    const lifetimeDays = await allowedLifetime(trx, companyId, lifetime);
    const pending = await repo.findCompanyCredential(trx, companyId, id);
    if (!pending || pending.kind !== kind) throw notFound();
    const noun = kind === 'basic' ? 'key' : 'client secret';
    if (pending.status === 'active') return { ok: false, reason: 'already_saved', message: `This ${noun} is already saved and active.` };
    if (pending.status !== 'pending') {
      return { ok: false, reason: 'ended', message: `This ${noun} can no longer be saved (it is ${pending.status}); generate a new one.` };
    }
    if ((pending.expiresAt ?? 0) <= now) {
      await expirePending({ ...deps, db: trx }, pending, now);
      return { ok: false, reason: 'expired', message: `This ${noun} expired before it was saved; generate a new one.` };
    }
    let active = await repo.findActiveCredential(trx, companyId, kind);
    if (active && active.expiresAt !== null && active.expiresAt <= now) {
      // Its lifetime ended before the sweep saw it: it expires now, and there is nothing to replace.
      await expireLifetime({ ...deps, db: trx }, active, now);
      active = undefined;
    }
    // Compare-and-swap: another Save since this generation made another credential active. (None active:
    // the one this replaces was revoked or expired since, and nothing would be overridden.)
    if (active && active.id !== pending.replacesId) {
      await repo.endCredential(trx, pending.id, 'expired', now);
      await releaseLapsedUsername(trx, pending, now);
      await deps.audit.record(
        actor,
        { action: 'credential.save_conflict', companyId, target: pending.identifier, details: { kind, credentialId: pending.id } },
        trx,
      );
      return {
        ok: false,
        reason: 'superseded',
        message: `Another ${noun} was saved after this one was generated, so this one was not saved. The page now shows the one in use; generate a new one if you still need to.`,
      };
    }
    // Only one earlier credential keeps working at a time: an older overlap ends now.
    for (const old of await repo.listRetiringCredentials(trx, companyId, kind)) {
      await repo.endCredential(trx, old.id, 'retired', now);
      await deps.audit.record(
        actor,
        { action: 'credential.overlap_end', companyId, target: old.identifier, details: { kind, credentialId: old.id, early: true } },
        trx,
      );
    }
    if (active) {
      if (OVERLAPS[overlap] > 0) await repo.startRetiring(trx, active.id, now + OVERLAPS[overlap]);
      else await repo.endCredential(trx, active.id, 'retired', now);
    }
    const expiresAt = lifetimeDays === null ? null : now + lifetimeDays * DAY;
    await repo.activateCredential(trx, pending.id, actor.userId, now, expiresAt);
    await deps.audit.record(
      actor,
      {
        action: 'credential.save',
        companyId,
        target: pending.identifier,
        details: { kind, credentialId: pending.id, replaced: active?.identifier ?? null, overlap, lifetimeDays, expiresAt },
      },
      trx,
    );
    return {
      ok: true,
      credential: (await repo.findCompanyCredential(trx, companyId, pending.id))!,
      replaced: active ? await repo.findCompanyCredential(trx, companyId, active.id) : undefined,
    };
  });
  if (result.ok) {
    const { credential: c, replaced } = result;
    await notifyCompanyAdmins({ db: deps.db, mailer: deps.mailer }, companyId, 'credential_saved', {
      ...about(deps, c),
      actor: actor.label,
      at: c.savedAt ?? deps.clock.now(),
      replaced: replaced
        ? { identifier: replaced.identifier, secretPrefix: replaced.secretPrefix, retiresAt: replaced.status === 'retiring' ? replaced.retiresAt : null }
        : null,
    });
  }
  return result;
}

/** The API page's absolute address for notifications, when PUBLIC_URL is known. */
export const apiPageUrl = (deps: CredentialsDeps): string | null => (deps.publicUrl ? `${deps.publicUrl}/admin/api` : null);

/** What a notice about `c` names (no secret): its kind, identifier, public prefix, and the API page. */
const about = (deps: CredentialsDeps, c: CredentialRow) => ({
  credentialKind: c.kind,
  identifier: c.identifier,
  secretPrefix: c.secretPrefix,
  consoleUrl: apiPageUrl(deps),
});

/** The lifetimes the company allows at Save: each of CREDENTIAL_LIFETIME_DAYS up to its maximum, and none only without a maximum. */
export async function lifetimePolicy(deps: { db: Database }, companyId: number): Promise<{ max: number | null; allowed: (CredentialLifetimeDays | null)[] }> {
  const max = await findMaxCredentialLifetime(deps, companyId);
  const days = CREDENTIAL_LIFETIME_DAYS.filter((d) => max === null || d <= max);
  return { max, allowed: max === null ? [...days, null] : days };
}

/** What a Save that names no lifetime gets: never expires where the company allows it, else its maximum. */
export const lifetimeDefault = (policy: { max: number | null; allowed: (CredentialLifetimeDays | null)[] }): CredentialLifetimeDays | null =>
  policy.max === null ? null : (policy.allowed[policy.allowed.length - 1] ?? null);

/** The lifetime a Save asked for, if the company allows it; a specific FieldError (the form offers only allowed ones) if not. */
async function allowedLifetime(db: Database, companyId: number, lifetime: Lifetime): Promise<CredentialLifetimeDays | null> {
  const policy = await lifetimePolicy({ db }, companyId);
  if (lifetime === undefined) return lifetimeDefault(policy);
  if (policy.allowed.includes(lifetime)) return lifetime;
  throw new FieldError(
    'lifetime',
    lifetime === null
      ? `Your company requires credentials to expire: choose a lifetime of at most ${policy.max} days. Nothing was saved.`
      : `Your company allows a lifetime of at most ${policy.max} days; ${lifetime} days is longer. Choose ${policy.max} days or fewer. Nothing was saved.`,
  );
}

/** Revoke: a working credential (active or in its overlap) stops at once. */
export async function revokeCredential(deps: CredentialsDeps, companyId: number, id: number, reason: string, actor: Actor): Promise<CredentialRow> {
  const revoked = await transaction(deps.db, async (trx) => {
    const credential = await repo.findCompanyCredential(trx, companyId, id);
    if (!credential) throw notFound();
    if (credential.status !== 'active' && credential.status !== 'retiring') {
      throw new HttpError(409, 'not_working', `This credential is already ${credential.status}.`);
    }
    await repo.revokeCredential(trx, id, actor.userId, reason, deps.clock.now());
    await deps.audit.record(
      actor,
      {
        action: 'credential.revoke',
        companyId,
        target: credential.identifier,
        details: { kind: credential.kind, credentialId: id, reason },
      },
      trx,
    );
    return (await repo.findCompanyCredential(trx, companyId, id))!;
  });
  await notifyCompanyAdmins({ db: deps.db, mailer: deps.mailer }, companyId, 'credential_revoked', {
    ...about(deps, revoked),
    actor: actor.label,
    at: revoked.endedAt ?? deps.clock.now(),
    reason,
  });
  return revoked;
}

/** Inside a transaction: `deps.db` is that transaction. */
async function expirePending(deps: CredentialsDeps, c: CredentialRow, now: number): Promise<void> {
  await repo.endCredential(deps.db, c.id, 'expired', now);
  await releaseLapsedUsername(deps.db, c, now);
  await deps.audit.record(
    SYSTEM_ACTOR,
    { action: 'credential.expire', companyId: c.companyId, target: c.identifier, details: { kind: c.kind, credentialId: c.id } },
    deps.db,
  );
}

/** Inside a transaction: a saved credential reached the end of its lifetime. It keeps its expires_at (when it stopped working). */
async function expireLifetime(deps: CredentialsDeps, c: CredentialRow, now: number): Promise<void> {
  await repo.endCredential(deps.db, c.id, 'expired', now);
  await deps.audit.record(
    SYSTEM_ACTOR,
    {
      action: 'credential.expire',
      companyId: c.companyId,
      target: c.identifier,
      details: { kind: c.kind, credentialId: c.id, lifetimeEnded: true, expiresAt: c.expiresAt },
    },
    deps.db,
  );
}

/** A username claimed only by unsaved keys goes back to everyone when the last of them ends unsaved. */
async function releaseLapsedUsername(db: Database, c: CredentialRow, now: number): Promise<void> {
  if (c.kind === 'basic' && !(await repo.holdsUsername(db, c.companyId, c.identifier, now))) await repo.releaseUsername(db, c.identifier, c.companyId);
}

/** The advisory lock key of the sweep on PostgreSQL: one replica sweeps at a time, the others skip (issue 12). */
const SWEEP_JOB = 0x63727377; // 'crsw'

/**
 * Housekeeping: unsaved generations past 30 minutes and saved credentials past their lifetime become
 * 'expired', overlaps past their end become 'retired', each audited. Verification never depends on
 * this (it checks the times itself). Runs once across replicas: while another process sweeps, this one
 * does nothing. Sends no mail (see sendExpiryWarnings).
 */
export async function sweepCredentials(deps: CredentialsDeps): Promise<{ expired: number; retired: number }> {
  const none = { expired: 0, retired: 0 };
  if (!(await repo.hasLapsedCredentials(deps.db, deps.clock.now()))) return none;
  const result = await transactionOnce(deps.db, SWEEP_JOB, async (trx) => {
    const now = deps.clock.now();
    const lapsed = await repo.listLapsedPending(trx, now);
    for (const c of lapsed) await expirePending({ ...deps, db: trx }, c, now);
    // A lifetime that ended before the overlap did: expired. An overlap that ended first is retired below.
    const expired = (await repo.listLapsedLifetimes(trx, now)).filter((c) => c.status === 'active' || c.retiresAt === null || c.expiresAt! < c.retiresAt);
    for (const c of expired) await expireLifetime({ ...deps, db: trx }, c, now);
    const ended = await repo.listLapsedRetiring(trx, now);
    for (const c of ended) {
      await repo.endCredential(trx, c.id, 'retired', now);
      await deps.audit.record(
        SYSTEM_ACTOR,
        {
          action: 'credential.overlap_end',
          companyId: c.companyId,
          target: c.identifier,
          details: { kind: c.kind, credentialId: c.id },
        },
        trx,
      );
    }
    return { expired: lapsed.length + expired.length, retired: ended.length };
  });
  return result === skipped ? none : result;
}

/** The advisory lock key of the expiry warnings on PostgreSQL: one replica sends them at a time. */
const WARNING_JOB = 0x63727770; // 'crwp'

/**
 * Mails the administrators of each company whose active credential expires within 14, 7 or 1 days:
 * the warning due now, once. Each warning sent is recorded (credential_expiry_warnings) in the
 * transaction that queues its mails, so a restart, a second sweep or another replica never sends it
 * again; after a long pause only the most urgent one due is sent. Returns how many warnings were sent.
 */
export async function sendExpiryWarnings(deps: CredentialsDeps): Promise<number> {
  if (!(await repo.hasExpiryWarningsDue(deps.db, deps.clock.now(), EXPIRY_WARNING_DAYS))) return 0;
  const sent = await transactionOnce(deps.db, WARNING_JOB, async (trx) => {
    const now = deps.clock.now();
    let count = 0;
    for (const c of await repo.listExpiryWarningsDue(trx, now, EXPIRY_WARNING_DAYS)) {
      const daysBefore = EXPIRY_WARNING_DAYS.find((days) => c.expiresAt! <= now + days * DAY)!;
      if (!(await repo.recordExpiryWarning(trx, c.id, daysBefore, now))) continue;
      await deps.audit.record(
        SYSTEM_ACTOR,
        { action: 'credential.expiry_warning', companyId: c.companyId, target: c.identifier, details: { kind: c.kind, credentialId: c.id, daysBefore } },
        trx,
      );
      await notifyCompanyAdmins({ db: trx, mailer: deps.mailer }, c.companyId, 'credential_expiring', {
        ...about(deps, c),
        expiresAt: c.expiresAt!,
        daysLeft: Math.max(1, Math.ceil((c.expiresAt! - now) / DAY)),
      });
      count++;
    }
    return count;
  });
  if (sent === skipped) return 0;
  if (sent > 0) deps.mailer.wake?.();
  return sent;
}

/** The sweeper's round (every 30 s): the sweep, then the expiry warnings. */
export async function runCredentialHousekeeping(deps: CredentialsDeps): Promise<void> {
  await sweepCredentials(deps);
  await sendExpiryWarnings(deps);
}

/**
 * End overlap now: the previous credential, still working in its overlap after a Save, stops at once
 * (audited, and the administrators are told, like a revoke).
 */
export async function endOverlapNow(deps: CredentialsDeps, companyId: number, id: number, actor: Actor): Promise<CredentialRow> {
  const ended = await transaction(deps.db, async (trx) => {
    const now = deps.clock.now();
    const credential = await repo.findCompanyCredential(trx, companyId, id);
    if (!credential) throw notFound();
    const inOverlap = credential.status === 'retiring' && (credential.retiresAt ?? 0) > now && (credential.expiresAt === null || credential.expiresAt > now);
    if (!inOverlap) {
      const state = credential.status === 'retiring' ? 'past its overlap' : credential.status;
      throw new HttpError(409, 'not_in_overlap', `This credential is not in an overlap (it is ${state}), so there is no overlap to end.`);
    }
    await repo.endCredential(trx, id, 'retired', now);
    await deps.audit.record(
      actor,
      {
        action: 'credential.overlap_end',
        companyId,
        target: credential.identifier,
        details: { kind: credential.kind, credentialId: id, early: true, plannedEnd: credential.retiresAt },
      },
      trx,
    );
    return (await repo.findCompanyCredential(trx, companyId, id))!;
  });
  await notifyCompanyAdmins({ db: deps.db, mailer: deps.mailer }, companyId, 'credential_overlap_ended', {
    ...about(deps, ended),
    actor: actor.label,
    at: ended.endedAt ?? deps.clock.now(),
    plannedEnd: ended.retiresAt,
  });
  return ended;
}

export interface KindState {
  active?: CredentialRow;
  retiring: CredentialRow[];
  history: CredentialRow[];
}

/** What the API page shows for one kind, without any secret. */
export async function credentialState(deps: CredentialsDeps, companyId: number, kind: CredentialKind): Promise<KindState> {
  await sweepCredentials(deps);
  return {
    active: await repo.findActiveCredential(deps.db, companyId, kind),
    retiring: await repo.listRetiringCredentials(deps.db, companyId, kind),
    history: await repo.listEndedCredentials(deps.db, companyId, kind, 5),
  };
}

// ------------------------------------------------------------------ for the scope catalog and the CLI

export type { CredentialKind, CredentialRow } from './repo';

/** Pending or working client credentials that carry the scope (a scope in use cannot leave the catalog). */
export async function countLiveCredentialsWithScope(deps: { db: Database }, scope: string): Promise<number> {
  return repo.countLiveCredentialsWithScope(deps.db, scope);
}

/** Generations that never worked and lapsed before `cutoff`: counted (dryRun) or deleted. Saved ones are history and stay. */
export async function pruneDeadGenerations(deps: { db: Database }, cutoff: number, dryRun: boolean): Promise<number> {
  return dryRun ? repo.countDeadGenerations(deps.db, cutoff) : repo.deleteDeadGenerations(deps.db, cutoff);
}
