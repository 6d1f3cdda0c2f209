import bcrypt from 'bcrypt';
import type { Db } from '../../db/open';
import { transaction } from '../../db/open';
import type { Clock } from '../../clock';
import { HOUR, MINUTE } from '../../clock';
import { FailureThrottle } from '../../http/throttle';
import { randomToken, sha256 } from '../../crypto';
import type { Actor, AuditLog } from '../audit/service';
import { createCompanyGrantingAllScopes } from '../companies/service';
import * as repo from './repo';

export const INVITATION_TTL_MS = 72 * HOUR;
const SETUP_TOKEN_KEY = 'setup_token_hash';

export interface AuthDeps {
  db: Db;
  clock: Clock;
  audit: AuditLog;
  bcryptCost: number;
}

// A real hash to compare against when the account does not exist, so timing does not reveal it.
let dummyHash: string | undefined;

/** Checks an email and password; undefined for any failure (unknown, disabled, not yet set, wrong). */
export async function verifyPassword(deps: AuthDeps, email: string, password: string): Promise<repo.UserRecord | undefined> {
  const user = repo.findUserByEmail(deps.db, email);
  if (!user || !user.passwordHash || user.disabledAt !== null) {
    dummyHash ??= await bcrypt.hash('not a password', deps.bcryptCost);
    await bcrypt.compare(password, dummyHash);
    return undefined;
  }
  return (await bcrypt.compare(password, user.passwordHash)) ? user : undefined;
}

/**
 * Sign-in attempts: 20 per source address and 5 per account in 15 minutes. An attempt is counted
 * before its password is compared, in the same synchronous step as the check, so a burst of
 * parallel attempts cannot all pass the check while the first ones are still in bcrypt.
 */
export class SignInThrottle {
  private readonly perAddress: FailureThrottle;
  private readonly perAccount: FailureThrottle;

  constructor(clock: Clock) {
    this.perAddress = new FailureThrottle(clock, 20, 15 * MINUTE);
    this.perAccount = new FailureThrottle(clock, 5, 15 * MINUTE);
  }

  /** Counts one attempt for the address and the account; or, when either is blocked, counts nothing and returns the seconds to wait. */
  reserve(address: string, email: string): number {
    const wait = Math.max(this.perAddress.retryAfter([`ip:${address}`]), this.perAccount.retryAfter([`account:${email}`]));
    if (wait > 0) return wait;
    this.perAddress.recordFailure([`ip:${address}`]);
    this.perAccount.recordFailure([`account:${email}`]);
    return 0;
  }

  /** The attempt succeeded: the address gets it back and the account starts afresh. */
  succeeded(address: string, email: string): void {
    this.perAddress.release(`ip:${address}`);
    this.perAccount.reset(`account:${email}`);
  }
}

export type SignInResult = { ok: true; user: repo.UserRecord } | { ok: false; reason: 'throttled'; retryAfter: number } | { ok: false; reason: 'invalid' };

/** A sign-in attempt from `address`: throttled first (nothing reaches bcrypt past the limit), then the password. */
export async function attemptSignIn(deps: AuthDeps, throttle: SignInThrottle, address: string, email: string, password: string): Promise<SignInResult> {
  const retryAfter = throttle.reserve(address, email);
  if (retryAfter > 0) return { ok: false, reason: 'throttled', retryAfter };
  const user = await verifyPassword(deps, email, password);
  if (!user) return { ok: false, reason: 'invalid' };
  throttle.succeeded(address, email);
  return { ok: true, user };
}

export function hashPassword(deps: Pick<AuthDeps, 'bcryptCost'>, password: string): Promise<string> {
  return bcrypt.hash(password, deps.bcryptCost);
}

export function recordSignIn(deps: AuthDeps, user: repo.UserRecord, actor: Actor): void {
  repo.recordSignIn(deps.db, user.id, deps.clock.now());
  deps.audit.record(actor, { action: 'auth.sign_in', companyId: user.companyId, target: user.email });
}

/** Creates the first company and its operator. Fails if anyone exists already (first start only). */
export async function createFirstOperator(
  deps: AuthDeps,
  input: { companyName: string; email: string; password: string },
  actor: Actor,
): Promise<number | undefined> {
  const hash = await hashPassword(deps, input.password);
  return transaction(deps.db, () => {
    if (repo.countUsers(deps.db) > 0) return undefined;
    const now = deps.clock.now();
    const companyId = createCompanyGrantingAllScopes(deps, input.companyName, now);
    const userId = repo.createUser(deps.db, { companyId, email: input.email, passwordHash: hash, isOperator: true }, now);
    repo.deleteSetting(deps.db, SETUP_TOKEN_KEY);
    deps.audit.record(
      { ...actor, userId, label: actor.label === 'anonymous' ? input.email : actor.label },
      {
        action: 'setup.first_operator',
        companyId,
        target: input.email,
        details: { company: input.companyName },
      },
    );
    return userId;
  });
}

/** A new one-time setup token (only its hash is kept); the server prints the link once. */
export function issueSetupToken(deps: AuthDeps): string {
  const token = randomToken(24);
  repo.setSetting(deps.db, SETUP_TOKEN_KEY, sha256(token).toString('hex'));
  return token;
}

export function isSetupTokenValid(deps: AuthDeps, token: string | undefined): boolean {
  if (!token || token.length > 200 || repo.countUsers(deps.db) > 0) return false;
  const stored = repo.getSetting(deps.db, SETUP_TOKEN_KEY);
  return stored !== undefined && stored === sha256(token).toString('hex');
}

export type InvitationCheck = { ok: true; invitation: repo.InvitationRecord } | { ok: false; reason: 'unknown' | 'used' | 'expired' | 'disabled' };

export function checkInvitation(deps: AuthDeps, token: string | undefined): InvitationCheck {
  if (!token || token.length > 200) return { ok: false, reason: 'unknown' };
  const invitation = repo.findInvitationByHash(deps.db, sha256(token));
  if (!invitation) return { ok: false, reason: 'unknown' };
  if (invitation.usedAt !== null) return { ok: false, reason: 'used' };
  if (invitation.expiresAt <= deps.clock.now()) return { ok: false, reason: 'expired' };
  // A disabled account must not be re-opened by an invitation sent before it was disabled.
  if (invitation.userDisabledAt !== null) return { ok: false, reason: 'disabled' };
  return { ok: true, invitation };
}

/** Sets the invited user's password, spends the link and ends the user's other sessions. */
export async function acceptInvitation(deps: AuthDeps, token: string, password: string, actor: Actor): Promise<InvitationCheck> {
  const hash = await hashPassword(deps, password);
  return transaction(deps.db, () => {
    const check = checkInvitation(deps, token);
    if (!check.ok) return check;
    if (!repo.markInvitationUsed(deps.db, check.invitation.id, deps.clock.now())) return { ok: false, reason: 'used' } as const;
    repo.setPasswordHash(deps.db, check.invitation.userId, hash);
    deps.audit.record(
      { ...actor, userId: check.invitation.userId, label: check.invitation.email },
      {
        action: 'auth.password_set',
        companyId: check.invitation.companyId,
        target: check.invitation.email,
      },
    );
    repo.deleteUserSessions(deps.db, check.invitation.userId);
    return check;
  });
}

/** A one-time link for a user to set a password; returns the token (only its hash is stored). */
export function issueInvitation(deps: Pick<AuthDeps, 'db' | 'clock'>, userId: number, createdBy: number | null): { token: string; expiresAt: number } {
  const token = randomToken(32);
  const now = deps.clock.now();
  const expiresAt = now + INVITATION_TTL_MS;
  repo.createInvitation(deps.db, userId, sha256(token), createdBy, now, expiresAt);
  return { token, expiresAt };
}

// ------------------------------------------------------------------ accounts, for the other features and the CLI

export type { CompanyUser, UserRecord } from './repo';

/** Has the deployment had its first start (an operator exists)? */
export function hasAnyUser(deps: { db: Db }): boolean {
  return repo.countUsers(deps.db) > 0;
}

export function findUserByEmail(deps: { db: Db }, email: string): repo.UserRecord | undefined {
  return repo.findUserByEmail(deps.db, email);
}

export function findUserById(deps: { db: Db }, id: number): repo.UserRecord | undefined {
  return repo.findUserById(deps.db, id);
}

export function createUser(
  deps: { db: Db },
  user: { companyId: number; email: string; passwordHash: string | null; isOperator: boolean },
  now: number,
): number {
  return repo.createUser(deps.db, user, now);
}

export function listCompanyUsers(deps: { db: Db }, companyId: number): repo.CompanyUser[] {
  return repo.listCompanyUsers(deps.db, companyId);
}

/** Where credential notices go: every administrator of the company who can sign in. */
export function listCompanyRecipients(deps: { db: Db }, companyId: number): string[] {
  return repo.listCompanyRecipients(deps.db, companyId);
}

/** Disables the user and ends every session of theirs; returns how many sessions ended. */
export function disableUserAccount(deps: { db: Db; clock: Clock }, userId: number): number {
  repo.setUserDisabled(deps.db, userId, deps.clock.now());
  return repo.deleteUserSessions(deps.db, userId);
}

export function enableUserAccount(deps: { db: Db }, userId: number): void {
  repo.setUserDisabled(deps.db, userId, null);
}

/** A suspected compromise: the password stops working and every session ends; returns how many ended. */
export function lockUserAccount(deps: { db: Db }, userId: number): number {
  repo.clearPasswordHash(deps.db, userId);
  return repo.deleteUserSessions(deps.db, userId);
}

/** Expired sessions: counted (dryRun) or deleted. */
export function pruneExpiredSessions(deps: { db: Db }, now: number, dryRun: boolean): number {
  return dryRun ? repo.countExpiredSessions(deps.db, now) : repo.deleteExpiredSessions(deps.db, now);
}
