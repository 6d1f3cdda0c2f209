import type { Database } from '../../db/connect';
import { skipped, transactionOnce, transaction } from '../../db/connect';
import type { Clock } from '../../clock';
import { DAY, HOUR, MINUTE } from '../../clock';
import { sha256 } from '../../crypto';
import { FieldError, HttpError, notFound, tooManyRequests } from '../../http/errors';
import type { Actor, AuditLog } from '../audit/service';
import { SYSTEM_ACTOR } from '../audit/service';
import { listCompanyScopes } from '../companies/service';
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
): Promise<SaveResult> {
  const result = await transaction(deps.db, async (trx): Promise<SaveResult> => {
    const now = deps.clock.now();
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
    const active = await repo.findActiveCredential(trx, companyId, kind);
    if ((active?.id ?? null) !== pending.replacesId) {
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
    await repo.activateCredential(trx, pending.id, actor.userId, now);
    await deps.audit.record(
      actor,
      {
        action: 'credential.save',
        companyId,
        target: pending.identifier,
        details: { kind, credentialId: pending.id, replaced: active?.identifier ?? null, overlap },
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
      credentialKind: kind,
      identifier: c.identifier,
      secretPrefix: c.secretPrefix,
      actor: actor.label,
      at: c.savedAt ?? deps.clock.now(),
      replaced: replaced
        ? { identifier: replaced.identifier, secretPrefix: replaced.secretPrefix, retiresAt: replaced.status === 'retiring' ? replaced.retiresAt : null }
        : null,
      consoleUrl: apiPageUrl(deps),
    });
  }
  return result;
}

/** The API page's absolute address for notifications, when PUBLIC_URL is known. */
export const apiPageUrl = (deps: CredentialsDeps): string | null => (deps.publicUrl ? `${deps.publicUrl}/admin/api` : null);

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
    credentialKind: revoked.kind,
    identifier: revoked.identifier,
    secretPrefix: revoked.secretPrefix,
    actor: actor.label,
    at: revoked.endedAt ?? deps.clock.now(),
    reason,
    consoleUrl: apiPageUrl(deps),
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

/** A username claimed only by unsaved keys goes back to everyone when the last of them ends unsaved. */
async function releaseLapsedUsername(db: Database, c: CredentialRow, now: number): Promise<void> {
  if (c.kind === 'basic' && !(await repo.holdsUsername(db, c.companyId, c.identifier, now))) await repo.releaseUsername(db, c.identifier, c.companyId);
}

/** The advisory lock key of the sweep on PostgreSQL: one replica sweeps at a time, the others skip (issue 12). */
const SWEEP_JOB = 0x63727377; // 'crsw'

/**
 * Housekeeping: unsaved generations past 30 minutes become 'expired', overlaps past their end become
 * 'retired', each audited. Verification never depends on this (it checks the times itself). Runs once
 * across replicas: while another process sweeps, this one does nothing.
 */
export async function sweepCredentials(deps: CredentialsDeps): Promise<{ expired: number; retired: number }> {
  const none = { expired: 0, retired: 0 };
  if (!(await repo.hasLapsedCredentials(deps.db, deps.clock.now()))) return none;
  const result = await transactionOnce(deps.db, SWEEP_JOB, async (trx) => {
    const now = deps.clock.now();
    const lapsed = await repo.listLapsedPending(trx, now);
    for (const c of lapsed) await expirePending({ ...deps, db: trx }, c, now);
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
    return { expired: lapsed.length, retired: ended.length };
  });
  return result === skipped ? none : result;
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
