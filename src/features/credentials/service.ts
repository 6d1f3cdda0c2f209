import type { Db } from '../../db/open';
import { transaction } from '../../db/open';
import type { Clock } from '../../clock';
import { DAY, HOUR, MINUTE } from '../../clock';
import { sha256 } from '../../crypto';
import { FieldError, HttpError, notFound, tooManyRequests } from '../../http/errors';
import type { Actor, AuditLog } from '../audit/service';
import { SYSTEM_ACTOR } from '../audit/service';
import { listCompanyScopesSync } from '../companies/service';
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
  db: Db;
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
export function generateApiKeyFor(deps: CredentialsDeps, companyId: number, username: string, actor: Actor): Generated {
  return transaction(deps.db, () => {
    const now = deps.clock.now();
    assertRoomForUnsaved(deps, companyId, 'basic', now);
    const owner = repo.usernameOwner(deps.db, username);
    if (owner !== undefined && owner !== companyId) {
      if (repo.holdsUsername(deps.db, owner, username, now)) {
        throw new FieldError('username', 'This username is already used by another company. Choose a different one.');
      }
      // The other company only generated keys under it and saved none before they lapsed: its claim lapsed with them.
      repo.releaseUsername(deps.db, username, owner);
    }
    repo.claimUsername(deps.db, username, companyId, now);
    return insertPending(deps, companyId, 'basic', username, generateApiKey(), listCompanyScopesSync(deps, companyId), actor);
  });
}

/** Generates OAuth 2.0 client credentials (a new Client ID and secret) with `scopes`, a subset of the company's. */
export function generateClientCredentials(deps: CredentialsDeps, companyId: number, scopes: string[] | undefined, actor: Actor): Generated {
  return transaction(deps.db, () => {
    assertRoomForUnsaved(deps, companyId, 'oauth', deps.clock.now());
    const allowed = listCompanyScopesSync(deps, companyId);
    const chosen = scopes === undefined ? allowed : [...new Set(scopes)].sort();
    const notAllowed = chosen.filter((s) => !allowed.includes(s));
    if (notAllowed.length) throw new FieldError('scopes', `Your company may not grant: ${notAllowed.slice(0, 5).join(', ')}.`);
    if (chosen.length === 0) throw new FieldError('scopes', 'Choose at least one scope.');
    return insertPending(deps, companyId, 'oauth', generateClientId(), generateClientSecret(), chosen, actor);
  });
}

/** Refuses a generation (429) while the company holds MAX_UNSAVED_PER_KIND unsaved ones of this kind. */
function assertRoomForUnsaved(deps: CredentialsDeps, companyId: number, kind: CredentialKind, now: number): void {
  const unsaved = repo.countUnsavedCredentials(deps.db, companyId, kind, now);
  if (unsaved.count < MAX_UNSAVED_PER_KIND) return;
  throw tooManyRequests(
    ((unsaved.firstExpiry ?? now + PENDING_TTL_MS) - now) / 1000,
    `You have ${unsaved.count} unsaved credentials; save or wait for them to expire (${PENDING_TTL_MS / MINUTE} minutes) before generating another.`,
  );
}

function insertPending(
  deps: CredentialsDeps,
  companyId: number,
  kind: CredentialKind,
  identifier: string,
  secret: string,
  scopes: string[],
  actor: Actor,
): Generated {
  const now = deps.clock.now();
  const active = repo.findActiveCredential(deps.db, companyId, kind);
  const id = repo.insertPendingCredential(deps.db, {
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
  });
  deps.audit.record(actor, { action: 'credential.generate', companyId, target: identifier, details: { kind, credentialId: id, prefix: publicPrefix(secret) } });
  return { credential: repo.findCompanyCredential(deps.db, companyId, id)!, secret };
}

export type SaveResult =
  | { ok: true; credential: CredentialRow; replaced?: CredentialRow }
  | { ok: false; reason: 'expired' | 'superseded' | 'already_saved' | 'ended'; message: string };

/**
 * Save: the generated credential becomes the active one and, in the same transaction, the previous
 * active one stops working now (overlap 'none') or at the end of the chosen window. Compare-and-swap
 * on the credential that was active when this one was generated: of two racing Saves exactly one wins.
 */
export function saveCredential(deps: CredentialsDeps, companyId: number, kind: CredentialKind, id: number, overlap: Overlap, actor: Actor): SaveResult {
  const result = transaction(deps.db, (): SaveResult => {
    const now = deps.clock.now();
    const pending = repo.findCompanyCredential(deps.db, companyId, id);
    if (!pending || pending.kind !== kind) throw notFound();
    const noun = kind === 'basic' ? 'key' : 'client secret';
    if (pending.status === 'active') return { ok: false, reason: 'already_saved', message: `This ${noun} is already saved and active.` };
    if (pending.status !== 'pending') {
      return { ok: false, reason: 'ended', message: `This ${noun} can no longer be saved (it is ${pending.status}); generate a new one.` };
    }
    if ((pending.expiresAt ?? 0) <= now) {
      expirePending(deps, pending, now);
      return { ok: false, reason: 'expired', message: `This ${noun} expired before it was saved; generate a new one.` };
    }
    const active = repo.findActiveCredential(deps.db, companyId, kind);
    if ((active?.id ?? null) !== pending.replacesId) {
      repo.endCredential(deps.db, pending.id, 'expired', now);
      releaseLapsedUsername(deps, pending, now);
      deps.audit.record(actor, { action: 'credential.save_conflict', companyId, target: pending.identifier, details: { kind, credentialId: pending.id } });
      return {
        ok: false,
        reason: 'superseded',
        message: `Another ${noun} was saved after this one was generated, so this one was not saved. The page now shows the one in use; generate a new one if you still need to.`,
      };
    }
    // Only one earlier credential keeps working at a time: an older overlap ends now.
    for (const old of repo.listRetiringCredentials(deps.db, companyId, kind)) {
      repo.endCredential(deps.db, old.id, 'retired', now);
      deps.audit.record(actor, { action: 'credential.overlap_end', companyId, target: old.identifier, details: { kind, credentialId: old.id, early: true } });
    }
    if (active) {
      if (OVERLAPS[overlap] > 0) repo.startRetiring(deps.db, active.id, now + OVERLAPS[overlap]);
      else repo.endCredential(deps.db, active.id, 'retired', now);
    }
    repo.activateCredential(deps.db, pending.id, actor.userId, now);
    deps.audit.record(actor, {
      action: 'credential.save',
      companyId,
      target: pending.identifier,
      details: { kind, credentialId: pending.id, replaced: active?.identifier ?? null, overlap },
    });
    return {
      ok: true,
      credential: repo.findCompanyCredential(deps.db, companyId, pending.id)!,
      replaced: active ? repo.findCompanyCredential(deps.db, companyId, active.id) : undefined,
    };
  });
  if (result.ok) {
    const { credential: c, replaced } = result;
    notifyCompanyAdmins(deps, companyId, 'credential_saved', {
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

const apiPageUrl = (deps: CredentialsDeps): string | null => (deps.publicUrl ? `${deps.publicUrl}/admin/api` : null);

/** Revoke: a working credential (active or in its overlap) stops at once. */
export function revokeCredential(deps: CredentialsDeps, companyId: number, id: number, reason: string, actor: Actor): CredentialRow {
  const revoked = transaction(deps.db, () => {
    const credential = repo.findCompanyCredential(deps.db, companyId, id);
    if (!credential) throw notFound();
    if (credential.status !== 'active' && credential.status !== 'retiring') {
      throw new HttpError(409, 'not_working', `This credential is already ${credential.status}.`);
    }
    repo.revokeCredential(deps.db, id, actor.userId, reason, deps.clock.now());
    deps.audit.record(actor, {
      action: 'credential.revoke',
      companyId,
      target: credential.identifier,
      details: { kind: credential.kind, credentialId: id, reason },
    });
    return repo.findCompanyCredential(deps.db, companyId, id)!;
  });
  notifyCompanyAdmins(deps, companyId, 'credential_revoked', {
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

function expirePending(deps: CredentialsDeps, c: CredentialRow, now: number): void {
  repo.endCredential(deps.db, c.id, 'expired', now);
  releaseLapsedUsername(deps, c, now);
  deps.audit.record(SYSTEM_ACTOR, { action: 'credential.expire', companyId: c.companyId, target: c.identifier, details: { kind: c.kind, credentialId: c.id } });
}

/** A username claimed only by unsaved keys goes back to everyone when the last of them ends unsaved. */
function releaseLapsedUsername(deps: CredentialsDeps, c: CredentialRow, now: number): void {
  if (c.kind === 'basic' && !repo.holdsUsername(deps.db, c.companyId, c.identifier, now)) repo.releaseUsername(deps.db, c.identifier, c.companyId);
}

/**
 * Housekeeping: unsaved generations past 30 minutes become 'expired', overlaps past their end become
 * 'retired', each audited. Verification never depends on this (it checks the times itself).
 */
export function sweepCredentials(deps: CredentialsDeps): { expired: number; retired: number } {
  if (!repo.hasLapsedCredentials(deps.db, deps.clock.now())) return { expired: 0, retired: 0 };
  return transaction(deps.db, () => {
    const now = deps.clock.now();
    const lapsed = repo.listLapsedPending(deps.db, now);
    for (const c of lapsed) expirePending(deps, c, now);
    const ended = repo.listLapsedRetiring(deps.db, now);
    for (const c of ended) {
      repo.endCredential(deps.db, c.id, 'retired', now);
      deps.audit.record(SYSTEM_ACTOR, {
        action: 'credential.overlap_end',
        companyId: c.companyId,
        target: c.identifier,
        details: { kind: c.kind, credentialId: c.id },
      });
    }
    return { expired: lapsed.length, retired: ended.length };
  });
}

export interface KindState {
  active?: CredentialRow;
  retiring: CredentialRow[];
  history: CredentialRow[];
}

/** What the API page shows for one kind, without any secret. */
export function credentialState(deps: CredentialsDeps, companyId: number, kind: CredentialKind): KindState {
  sweepCredentials(deps);
  return {
    active: repo.findActiveCredential(deps.db, companyId, kind),
    retiring: repo.listRetiringCredentials(deps.db, companyId, kind),
    history: repo.listEndedCredentials(deps.db, companyId, kind, 5),
  };
}

// ------------------------------------------------------------------ for the scope catalog and the CLI

export type { CredentialKind, CredentialRow } from './repo';

/** Pending or working client credentials that carry the scope (a scope in use cannot leave the catalog). */
export function countLiveCredentialsWithScope(deps: { db: Db }, scope: string): number {
  return repo.countLiveCredentialsWithScope(deps.db, scope);
}

/** Generations that never worked and lapsed before `cutoff`: counted (dryRun) or deleted. Saved ones are history and stay. */
export function pruneDeadGenerations(deps: { db: Db }, cutoff: number, dryRun: boolean): number {
  return dryRun ? repo.countDeadGenerations(deps.db, cutoff) : repo.deleteDeadGenerations(deps.db, cutoff);
}
