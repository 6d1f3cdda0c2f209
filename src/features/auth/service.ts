import bcrypt from 'bcrypt';
import type { Database } from '../../db/connect';
import { transaction } from '../../db/connect';
import type { Clock } from '../../clock';
import { HOUR, MINUTE } from '../../clock';
import * as throttleRepo from '../../http/throttle-repo';
import { randomToken, sha256 } from '../../crypto';
import type { Actor, AuditLog } from '../audit/service';
import { createCompanyGrantingAllScopes } from '../companies/service';
import * as repo from './repo';

export const INVITATION_TTL_MS = 72 * HOUR;
const SETUP_TOKEN_KEY = 'setup_token_hash';

export interface AuthDeps {
  db: Database;
  clock: Clock;
  audit: AuditLog;
  bcryptCost: number;
}

// A real hash to compare against when the account does not exist, so timing does not reveal it.
let dummyHash: string | undefined;

/**
 * Whether an account may sign in at all, whatever proves it is theirs (a password, a passkey): not
 * disabled, and set up (an invited user has chosen a password). The signed-in user's lookup on every
 * request asks the same (createSignedInUserLookup).
 */
export function maySignIn(user: repo.UserRecord): user is repo.UserRecord & { passwordHash: string } {
  return user.passwordHash !== null && user.disabledAt === null;
}

/** Checks an email and password; undefined for any failure (unknown, disabled, not yet set, wrong). */
export async function verifyPassword(deps: AuthDeps, email: string, password: string): Promise<repo.UserRecord | undefined> {
  const user = await repo.findUserByEmail(deps.db, email);
  if (!user || !maySignIn(user)) {
    dummyHash ??= await bcrypt.hash('not a password', deps.bcryptCost);
    await bcrypt.compare(password, dummyHash);
    return undefined;
  }
  return (await bcrypt.compare(password, user.passwordHash)) ? user : undefined;
}

const SIGN_IN_WINDOW_MS = 15 * MINUTE;
const PER_ADDRESS = 20;
const PER_ACCOUNT = 5;
const PRUNE_EVERY_MS = 10 * MINUTE;

/**
 * Sign-in attempts: 20 per source address and 5 per account in 15 minutes, counted in the database
 * so that every replica shares the windows. An attempt is counted before its password is compared,
 * in one transaction with the check (writers take turns on both engines), so a burst of parallel
 * attempts cannot all pass the check while the first ones are still in bcrypt. The second sign-in
 * step (an authenticator or recovery code) is counted the same way in windows of its own
 * (`new SignInThrottle(db, clock, 'second-factor')`, the account being the user's id).
 */
export class SignInThrottle {
  private lastPrune = 0;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    /** The windows' names start with it: 'sign-in' (passwords) or 'second-factor'. */
    private readonly name = 'sign-in',
  ) {}

  /** Counts one attempt for the address and the account; or, when either is blocked, counts nothing and returns the seconds to wait. */
  async reserve(address: string, email: string): Promise<number> {
    const byAddress = `${this.name}:ip:${address}`;
    const byAccount = `${this.name}:account:${email}`;
    const now = this.clock.now();
    await this.pruneNowAndThen(now);
    return transaction(this.db, async (trx) => {
      const windows = new Map((await throttleRepo.findWindows(trx, [byAddress, byAccount])).map((w) => [w.key, w]));
      const waitMs = Math.max(
        throttleRepo.blockedFor(windows.get(byAddress), PER_ADDRESS, SIGN_IN_WINDOW_MS, now),
        throttleRepo.blockedFor(windows.get(byAccount), PER_ACCOUNT, SIGN_IN_WINDOW_MS, now),
      );
      if (waitMs > 0) return Math.ceil(waitMs / 1000);
      await throttleRepo.countAttempt(trx, byAddress, now, SIGN_IN_WINDOW_MS);
      await throttleRepo.countAttempt(trx, byAccount, now, SIGN_IN_WINDOW_MS);
      return 0;
    });
  }

  /** The attempt succeeded: the address gets it back and the account starts afresh. */
  async succeeded(address: string, email: string): Promise<void> {
    await transaction(this.db, async (trx) => {
      await throttleRepo.releaseAttempt(trx, `${this.name}:ip:${address}`);
      await throttleRepo.deleteWindow(trx, `${this.name}:account:${email}`);
    });
  }

  /** Ended windows are deleted now and then, so a flood of addresses or guessed accounts does not pile up rows. */
  private async pruneNowAndThen(now: number): Promise<void> {
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    await throttleRepo.deleteWindowsStartedBefore(this.db, `${this.name}:`, now - SIGN_IN_WINDOW_MS);
  }
}

export type SignInResult = { ok: true; user: repo.UserRecord } | { ok: false; reason: 'throttled'; retryAfter: number } | { ok: false; reason: 'invalid' };

/** A sign-in attempt from `address`: throttled first (nothing reaches bcrypt past the limit), then the password. */
export async function attemptSignIn(deps: AuthDeps, throttle: SignInThrottle, address: string, email: string, password: string): Promise<SignInResult> {
  const retryAfter = await throttle.reserve(address, email);
  if (retryAfter > 0) return { ok: false, reason: 'throttled', retryAfter };
  const user = await verifyPassword(deps, email, password);
  if (!user) return { ok: false, reason: 'invalid' };
  await throttle.succeeded(address, email);
  return { ok: true, user };
}

/** The wait a throttled person reads, in whole minutes: "Please wait 3 minutes and try again." */
export function pleaseWait(retryAfterSeconds: number): string {
  const minutes = Math.ceil(retryAfterSeconds / 60);
  return `Please wait ${minutes} minute${minutes === 1 ? '' : 's'} and try again.`;
}

/** How long a check of the person (sign-in or re-authentication) lets sensitive actions through. */
export const RECENT_CHECK_MS = 10 * MINUTE;

/**
 * What a signed-in person answers when a sensitive action asks "is it still you?": the password, or
 * a code from one of their authenticator apps. The code is checked by the second-factors feature
 * (which imports this one), so the caller passes its check in `spend`: it accepts a code once only.
 */
export type IdentityAnswer = { kind: 'password'; password: string } | { kind: 'authenticator_code'; spend: () => Promise<boolean> };

export type IdentityCheck = { ok: true; checkedAt: number } | { ok: false; reason: 'throttled'; retryAfter: number } | { ok: false; reason: 'invalid' };

async function checkAnswer(user: repo.UserRecord, answer: IdentityAnswer): Promise<boolean> {
  if (!maySignIn(user)) return false;
  switch (answer.kind) {
    case 'password':
      return bcrypt.compare(answer.password, user.passwordHash);
    case 'authenticator_code':
      return answer.spend();
  }
}

/**
 * Re-authentication before a sensitive action ("sudo mode", docs/decisions/0016): the signed-in user
 * answers again. Throttled with sign-in's windows (the same address and account counts), so a stolen
 * session gets no more guesses than the sign-in form gives; a wrong answer is audited as
 * auth.reauth_failed, a right one as auth.reauth. `checkedAt` is the time to keep in the session.
 */
export async function confirmIdentity(deps: AuthDeps, throttle: SignInThrottle, userId: number, answer: IdentityAnswer, actor: Actor): Promise<IdentityCheck> {
  const user = await repo.findUserById(deps.db, userId);
  if (!user) return { ok: false, reason: 'invalid' };
  const address = actor.ip ?? 'unknown';
  const retryAfter = await throttle.reserve(address, user.email);
  if (retryAfter > 0) return { ok: false, reason: 'throttled', retryAfter };
  const event = { companyId: user.companyId, target: user.email, details: { answer: answer.kind } };
  if (!(await checkAnswer(user, answer))) {
    await deps.audit.record(actor, { action: 'auth.reauth_failed', ...event });
    return { ok: false, reason: 'invalid' };
  }
  await throttle.succeeded(address, user.email);
  await deps.audit.record(actor, { action: 'auth.reauth', ...event });
  return { ok: true, checkedAt: deps.clock.now() };
}

/** Was the person checked (signed in, or re-authenticated) recently enough for a sensitive action? */
export function isCheckRecent(deps: Pick<AuthDeps, 'clock'>, checkedAt: number | undefined): boolean {
  return checkedAt !== undefined && deps.clock.now() - checkedAt < RECENT_CHECK_MS;
}

export function hashPassword(deps: Pick<AuthDeps, 'bcryptCost'>, password: string): Promise<string> {
  return bcrypt.hash(password, deps.bcryptCost);
}

/** A sign-in: the user's last sign-in time and the audit entry (with how they proved it, e.g. { method: 'passkey' }). */
export async function recordSignIn(
  deps: Pick<AuthDeps, 'db' | 'clock' | 'audit'>,
  user: repo.UserRecord,
  actor: Actor,
  details?: Record<string, unknown>,
): Promise<void> {
  await repo.recordSignIn(deps.db, user.id, deps.clock.now());
  await deps.audit.record(actor, { action: 'auth.sign_in', companyId: user.companyId, target: user.email, ...(details ? { details } : {}) });
}

/** Creates the first company and its operator. Fails if anyone exists already (first start only). */
export async function createFirstOperator(
  deps: AuthDeps,
  input: { companyName: string; email: string; password: string },
  actor: Actor,
): Promise<number | undefined> {
  const hash = await hashPassword(deps, input.password);
  return transaction(deps.db, async (trx) => {
    if ((await repo.countUsers(trx)) > 0) return undefined;
    const now = deps.clock.now();
    const companyId = await createCompanyGrantingAllScopes({ db: trx }, input.companyName, now);
    const userId = await repo.createUser(trx, { companyId, email: input.email, passwordHash: hash, isOperator: true }, now);
    await repo.deleteSetting(trx, SETUP_TOKEN_KEY);
    await deps.audit.record(
      { ...actor, userId, label: actor.label === 'anonymous' ? input.email : actor.label },
      {
        action: 'setup.first_operator',
        companyId,
        target: input.email,
        details: { company: input.companyName },
      },
      trx,
    );
    return userId;
  });
}

/** A new one-time setup token (only its hash is kept); the server prints the link once. */
export async function issueSetupToken(deps: AuthDeps): Promise<string> {
  const token = randomToken(24);
  await repo.setSetting(deps.db, SETUP_TOKEN_KEY, sha256(token).toString('hex'));
  return token;
}

export async function isSetupTokenValid(deps: AuthDeps, token: string | undefined): Promise<boolean> {
  if (!token || token.length > 200 || (await repo.countUsers(deps.db)) > 0) return false;
  const stored = await repo.getSetting(deps.db, SETUP_TOKEN_KEY);
  return stored !== undefined && stored === sha256(token).toString('hex');
}

export type InvitationCheck = { ok: true; invitation: repo.InvitationRecord } | { ok: false; reason: 'unknown' | 'used' | 'expired' | 'disabled' };

export async function checkInvitation(deps: Pick<AuthDeps, 'db' | 'clock'>, token: string | undefined): Promise<InvitationCheck> {
  if (!token || token.length > 200) return { ok: false, reason: 'unknown' };
  const invitation = await repo.findInvitationByHash(deps.db, sha256(token));
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
  return transaction(deps.db, async (trx): Promise<InvitationCheck> => {
    const check = await checkInvitation({ db: trx, clock: deps.clock }, token);
    if (!check.ok) return check;
    if (!(await repo.markInvitationUsed(trx, check.invitation.id, deps.clock.now()))) return { ok: false, reason: 'used' };
    await repo.setPasswordHash(trx, check.invitation.userId, hash);
    await deps.audit.record(
      { ...actor, userId: check.invitation.userId, label: check.invitation.email },
      {
        action: 'auth.password_set',
        companyId: check.invitation.companyId,
        target: check.invitation.email,
      },
      trx,
    );
    await repo.deleteUserSessions(trx, check.invitation.userId);
    return check;
  });
}

/** A one-time link for a user to set a password; returns the token (only its hash is stored). */
export async function issueInvitation(
  deps: Pick<AuthDeps, 'db' | 'clock'>,
  userId: number,
  createdBy: number | null,
): Promise<{ token: string; expiresAt: number }> {
  const token = randomToken(32);
  const now = deps.clock.now();
  const expiresAt = now + INVITATION_TTL_MS;
  await repo.createInvitation(deps.db, userId, sha256(token), createdBy, now, expiresAt);
  return { token, expiresAt };
}

// ------------------------------------------------------------------ accounts, for the other features and the CLI

export type { CompanyUser, UserRecord } from './repo';

/** Has the deployment had its first start (an operator exists)? */
export async function hasAnyUser(deps: { db: Database }): Promise<boolean> {
  return (await repo.countUsers(deps.db)) > 0;
}

export function findUserByEmail(deps: { db: Database }, email: string): Promise<repo.UserRecord | undefined> {
  return repo.findUserByEmail(deps.db, email);
}

export function findUserById(deps: { db: Database }, id: number): Promise<repo.UserRecord | undefined> {
  return repo.findUserById(deps.db, id);
}

export function createUser(
  deps: { db: Database },
  user: { companyId: number; email: string; passwordHash: string | null; isOperator: boolean },
  now: number,
): Promise<number> {
  return repo.createUser(deps.db, user, now);
}

export function listCompanyUsers(deps: { db: Database }, companyId: number): Promise<repo.CompanyUser[]> {
  return repo.listCompanyUsers(deps.db, companyId);
}

/** Where credential notices go: every administrator of the company who can sign in. */
export function listCompanyRecipients(deps: { db: Database }, companyId: number): Promise<string[]> {
  return repo.listCompanyRecipients(deps.db, companyId);
}

/** Disables the user and ends every session of theirs; returns how many sessions ended. */
export async function disableUserAccount(deps: { db: Database; clock: Clock }, userId: number): Promise<number> {
  await repo.setUserDisabled(deps.db, userId, deps.clock.now());
  return repo.deleteUserSessions(deps.db, userId);
}

export async function enableUserAccount(deps: { db: Database }, userId: number): Promise<void> {
  await repo.setUserDisabled(deps.db, userId, null);
}

/** A suspected compromise: the password stops working and every session ends; returns how many ended. */
export async function lockUserAccount(deps: { db: Database }, userId: number): Promise<number> {
  await repo.clearPasswordHash(deps.db, userId);
  return repo.deleteUserSessions(deps.db, userId);
}

/** Expired sessions: counted (dryRun) or deleted. */
export function pruneExpiredSessions(deps: { db: Database }, now: number, dryRun: boolean): Promise<number> {
  return dryRun ? repo.countExpiredSessions(deps.db, now) : repo.deleteExpiredSessions(deps.db, now);
}

/** A deployment-wide setting (the settings table), for the other features. */
export function readSetting(deps: { db: Database }, key: string): Promise<string | undefined> {
  return repo.getSetting(deps.db, key);
}

export function writeSetting(deps: { db: Database }, key: string, value: string): Promise<void> {
  return repo.setSetting(deps.db, key, value);
}
