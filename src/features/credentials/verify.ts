import type { Database } from '../../db/connect';
import { WriteBehind } from '../../db/write-behind';
import type { Clock } from '../../clock';
import { formatUtcMinute } from '../../clock';
import { safeEqual, sha256 } from '../../crypto';
import { createCredentialLookups, recordLastUsed } from './repo';
import type { CredentialCandidate, CredentialKind, CredentialLookups, CredentialState, WindowAlong } from './repo';
import { addressAllowed } from './ranges';
import { API_KEY_PREFIX, CLIENT_SECRET_PREFIX, isWellFormed } from './secrets';

/** Who a verified credential belongs to. */
export interface CredentialIdentity {
  credentialId: number;
  companyId: number;
  companyName: string;
  kind: CredentialKind;
  identifier: string; // Basic username or OAuth client ID
  scopes: string[];
}

/**
 * How a credential that matched the secret, but works no more, came to stop working: `expired` before
 * it was saved, `lifetime` at the end of the lifetime chosen at Save.
 */
export type EndedHow = 'replaced' | 'revoked' | 'expired' | 'lifetime' | 'unsaved';

/**
 * The verdict on a presented identifier and secret. `malformed` and `unknown` are failed guesses
 * (the caller's throttle counts them). The other two come from someone holding one of our real
 * secrets, so they are never guesses and never counted: `mismatched`, a real secret sent with
 * another identifier (a configuration mistake), and `ended`, a secret that no longer works
 * (replaced, revoked, expired, or generated and not yet saved).
 */
export type CredentialCheck =
  | { ok: true; identity: CredentialIdentity }
  | { ok: false; reason: 'malformed' | 'unknown' | 'mismatched' }
  | { ok: false; reason: 'ended'; how: EndedHow; at: number | null }
  /** The caller's throttle window (see ThrottleGate) blocks it: nothing about the secret is told. */
  | { ok: false; reason: 'throttled'; retryAfter: number }
  | AddressRefused;

/**
 * A working credential used from an address its IP allowlist does not hold. Not a guess (the secret
 * is real): the holder is told, and the refusal is audited (src/platform/refusals.ts).
 */
export interface AddressRefused {
  ok: false;
  reason: 'address';
  identity: CredentialIdentity;
  address: string;
}

/** A working credential's verdict at the caller's address. */
export type WorkingFrom = { ok: true; identity: CredentialIdentity } | AddressRefused;

/** Why a request from `address` may not use the credential. Only the secret's holder gets this far: naming the address reveals nothing. */
export function addressRefusedDescription(refused: AddressRefused): string {
  const noun = refused.identity.kind === 'basic' ? 'API key' : 'client';
  return `This ${noun} may not be used from ${refused.address}: the address is not in its IP allowlist.`;
}

/**
 * A failure throttle read in the same query as the credential (the platform API's, src/platform/failures.ts):
 * the key of the caller's window, and the seconds a window makes it wait (0: not blocked).
 */
export interface ThrottleGate {
  windowKey: string;
  retryAfter(window: WindowAlong | undefined): number;
}

const earliest = (...times: (number | null)[]): number | null => {
  const known = times.filter((t): t is number => t !== null);
  return known.length ? Math.min(...known) : null;
};

/**
 * What the holder of a secret that stopped working is told (error_description). Only its holder can
 * send it, so saying what happened reveals nothing, and it spares them a hunt through their config.
 */
export function endedDescription(kind: CredentialKind, how: EndedHow, at: number | null): string {
  const noun = kind === 'basic' ? 'API key' : 'client secret';
  const on = at === null ? '' : ` on ${formatUtcMinute(at)}`;
  switch (how) {
    case 'replaced':
      return `This ${noun} was replaced${on}: use the new ${kind === 'basic' ? 'key' : 'Client ID and client secret'}.`;
    case 'revoked':
      return `This ${noun} was revoked${on}.`;
    case 'expired':
      return `This ${noun} expired${on} before it was saved.`;
    case 'lifetime':
      return `This ${noun} expired${on}, at the end of the lifetime chosen when it was saved: generate and save a new one on the API page.`;
    case 'unsaved':
      return `This ${noun} has not been saved yet: it works once an administrator saves it on the API page.`;
  }
}

/**
 * The one verification path for API keys, client secrets and the credentials behind access tokens.
 * No cache: every call reads the row (one indexed lookup, compiled once), so a Save, a revoke or the
 * end of an overlap made by any process on the same database takes effect on the very next request.
 */
export class CredentialVerifier {
  private readonly lookups: CredentialLookups;

  constructor(
    db: Database,
    private clock: Clock,
    readonly lastUsed: LastUsedTracker,
  ) {
    this.lookups = createCredentialLookups(db);
  }

  /** Active, or in its overlap; and in either case before the end of its lifetime (compared here, not left to the sweep). */
  private isWorking(row: CredentialState, now: number): boolean {
    const inLifetime = row.expiresAt === null || row.expiresAt > now;
    return inLifetime && (row.status === 'active' || (row.status === 'retiring' && row.retiresAt !== null && row.retiresAt > now));
  }

  /**
   * Why a row that is not working stopped, and when. The sweep that marks lapsed rows runs a little
   * after the moment (or not yet), and a Save can end an overlap or a generation early: the earlier
   * of the planned end and the recorded one is when it stopped.
   */
  private howEnded(row: CredentialState, now: number): { how: EndedHow; at: number | null } {
    switch (row.status) {
      case 'revoked':
        return { how: 'revoked', at: row.endedAt };
      case 'pending':
        return row.expiresAt !== null && row.expiresAt <= now ? { how: 'expired', at: row.expiresAt } : { how: 'unsaved', at: null };
      case 'expired':
        return { how: row.savedAt === null ? 'expired' : 'lifetime', at: earliest(row.expiresAt, row.endedAt) };
      case 'active':
        return { how: 'lifetime', at: row.expiresAt };
      case 'retiring': // past its overlap or its lifetime, whichever came first
        return row.expiresAt !== null && (row.retiresAt === null || row.expiresAt < row.retiresAt)
          ? { how: 'lifetime', at: row.expiresAt }
          : { how: 'replaced', at: row.retiresAt };
      default: // retired
        return { how: 'replaced', at: earliest(row.retiresAt, row.endedAt) };
    }
  }

  private identity(row: CredentialState, kind: CredentialKind): CredentialIdentity {
    return {
      credentialId: row.id,
      companyId: row.companyId,
      companyName: row.companyName,
      kind,
      identifier: row.identifier,
      // A scope the operator has since taken from the company stops working at once, here too.
      scopes: row.scopes && row.companyScopes ? row.scopes.split(' ').filter((s) => ` ${row.companyScopes} `.includes(` ${s} `)) : [],
    };
  }

  /**
   * With a gate, the caller's throttle window is read in the same query, and a blocked caller learns
   * nothing (not even a match). A malformed secret is refused before any read: its caller checks the throttle.
   */
  private async verify(
    kind: CredentialKind,
    prefix: string,
    identifier: string,
    secret: string,
    gate?: ThrottleGate,
    address?: string,
  ): Promise<CredentialCheck> {
    // A string that is not one of our secrets (shape or checksum) is refused before any lookup.
    if (identifier.length === 0 || identifier.length > 128 || !isWellFormed(secret, prefix)) return { ok: false, reason: 'malformed' };
    const digest = sha256(secret);
    const now = this.clock.now();
    const { candidates, window } = await this.lookups.findWorkingCandidates(kind, identifier, gate?.windowKey ?? '');
    const wait = gate ? gate.retryAfter(window) : 0;
    if (wait > 0) return { ok: false, reason: 'throttled', retryAfter: wait };
    let match: CredentialCandidate | undefined;
    for (const row of candidates) {
      // Compare against every candidate (at most two during an overlap), in constant time.
      if (safeEqual(row.secretHash, digest) && this.isWorking(row, now)) match = row;
    }
    if (match) return this.allowedFrom(match, kind, now, address);
    return this.whyRefused(kind, identifier, digest, now);
  }

  /**
   * A working credential's verdict at the caller's address (undefined: no address to check, as for a
   * token being introspected): its identity and its use noted, or refused by its IP allowlist, unused.
   */
  private allowedFrom(row: CredentialState, kind: CredentialKind, now: number, address: string | undefined): WorkingFrom {
    const identity = this.identity(row, kind);
    if (address !== undefined && !addressAllowed(row.allowedRanges, address)) return { ok: false, reason: 'address', identity, address };
    this.lastUsed.touch(row.id, now);
    return { ok: true, identity };
  }

  /** A refused secret: one we never issued (a guess), or a real one sent with another identifier, or one that stopped working. */
  private async whyRefused(kind: CredentialKind, identifier: string, digest: Buffer, now: number): Promise<CredentialCheck> {
    const row = await this.lookups.findCandidateBySecretHash(digest);
    if (!row || row.kind !== kind) return { ok: false, reason: 'unknown' };
    if (row.identifier !== identifier) return { ok: false, reason: 'mismatched' };
    return { ok: false, reason: 'ended', ...this.howEnded(row, now) };
  }

  /** Basic Auth: API username + API key, used from `address` (checked against the key's IP allowlist). */
  verifyApiKey(username: string, key: string, gate?: ThrottleGate, address?: string): Promise<CredentialCheck> {
    return this.verify('basic', API_KEY_PREFIX, username, key, gate, address);
  }

  /** OAuth 2.0 client authentication: Client ID + client secret, from `address` (the client's IP allowlist). */
  verifyClientSecret(clientId: string, secret: string, gate?: ThrottleGate, address?: string): Promise<CredentialCheck> {
    return this.verify('oauth', CLIENT_SECRET_PREFIX, clientId, secret, gate, address);
  }

  /** The client behind an access token, if it still works (not replaced after its overlap, not revoked). */
  async findWorkingClient(credentialId: number): Promise<CredentialIdentity | undefined> {
    return this.workingClient(await this.lookups.findCandidateById(credentialId, 'oauth'));
  }

  /**
   * The same verdict on a client row the caller read itself (the platform reads a token's client
   * along with the token's other state, in one query): its identity while it works, and its use noted.
   */
  workingClient(row: CredentialState | undefined): CredentialIdentity | undefined {
    const check = this.workingClientFrom(row, undefined);
    return check?.ok ? check.identity : undefined;
  }

  /** workingClient for a token used from `address`: refused (and its use not noted) when the client's IP allowlist lacks it. */
  workingClientFrom(row: CredentialState | undefined, address: string | undefined): WorkingFrom | undefined {
    const now = this.clock.now();
    if (!row || row.kind !== 'oauth' || !this.isWorking(row, now)) return undefined;
    return this.allowedFrom(row, 'oauth', now, address);
  }

  /** When a token's client (a row workingClient refused) reached the end of its lifetime; undefined if it stopped otherwise. */
  clientExpiry(row: CredentialState | undefined): number | undefined {
    if (!row || row.kind !== 'oauth') return undefined;
    const ended = this.howEnded(row, this.clock.now());
    return ended.how === 'lifetime' && ended.at !== null ? ended.at : undefined;
  }
}

/** The advisory lock key of the last-used flush on PostgreSQL: one replica writes at a time (issue 12). */
const LAST_USED_JOB = 0x6c617374; // 'last'

/**
 * Last-used times without a database write per request: kept in memory, written in one
 * transaction every few seconds and at shutdown (WriteBehind). Each replica keeps its own; their
 * flushes take turns, and a time in the database only ever moves forward (recordLastUsed).
 */
export class LastUsedTracker extends WriteBehind<Map<number, number>> {
  private pending = new Map<number, number>();

  constructor(db: Database) {
    super(db, LAST_USED_JOB);
  }

  touch(credentialId: number, at: number): void {
    const seen = this.pending.get(credentialId);
    if (seen === undefined || at > seen) this.pending.set(credentialId, at);
  }

  protected take(): Map<number, number> | undefined {
    if (this.pending.size === 0) return undefined;
    const batch = this.pending;
    this.pending = new Map();
    return batch;
  }

  protected async write(trx: Database, batch: Map<number, number>): Promise<number> {
    for (const [id, at] of batch) await recordLastUsed(trx, id, at);
    return batch.size;
  }

  /** Keeps the later time where a request touched the credential since. */
  protected putBack(batch: ReadonlyMap<number, number>): void {
    for (const [id, at] of batch) this.touch(id, at);
  }
}
