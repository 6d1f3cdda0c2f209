import { generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse } from '@simplewebauthn/server';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Clock } from '../../clock';
import { MINUTE } from '../../clock';
import type { Database } from '../../db/connect';
import { transaction } from '../../db/connect';
import { FieldError, notFound } from '../../http/errors';
import type { Actor, AuditLog } from '../audit/service';
import { findUserById, maySignIn, recordSignIn } from '../auth/service';
import type { UserRecord } from '../auth/repo';
import type { Mailer } from '../mail/service';
import { renderMail } from '../mail/templates';
import type { PasskeyNotice } from '../mail/templates';
import * as repo from './repo';

/** A ceremony's challenge is good for one answer within this time (WebAuthn's own timeout is shorter). */
export const CHALLENGE_TTL_MS = 5 * MINUTE;
const CEREMONY_TIMEOUT_MS = 2 * MINUTE;
const RP_NAME = 'API console';
export const PASSKEYS_PATH = '/account/passkeys';

export interface PasskeysDeps {
  db: Database;
  clock: Clock;
  audit: AuditLog;
  mailer: Mailer;
  /** PUBLIC_URL: its host is the relying party's id, its origin the only one a ceremony may come from. */
  publicUrl: string;
}

/** Who the passkeys belong to: the signed-in user. */
export interface PasskeyOwner {
  id: number;
  email: string;
  companyId: number;
}

/** The relying party, from the configured public URL (WebAuthn binds every passkey to it). */
export function relyingParty(publicUrl: string): { rpID: string; origin: string } {
  const url = new URL(publicUrl);
  return { rpID: url.hostname, origin: url.origin };
}

export interface PasskeyView {
  id: number;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export async function hasPasskeys(deps: Pick<PasskeysDeps, 'db'>, userId: number): Promise<boolean> {
  return (await repo.countUserPasskeys(deps.db, userId)) > 0;
}

/** How many passkeys each user of a company has, by user id (the operator's company page). */
export async function countPasskeysByCompanyUser(deps: Pick<PasskeysDeps, 'db'>, companyId: number): Promise<Map<number, number>> {
  return repo.countPasskeysByCompanyUser(deps.db, companyId);
}

export async function listPasskeys(deps: Pick<PasskeysDeps, 'db'>, userId: number): Promise<PasskeyView[]> {
  return (await repo.listUserPasskeys(deps.db, userId)).map(({ id, name, createdAt, lastUsedAt }) => ({ id, name, createdAt, lastUsedAt }));
}

/** A name the user has not given another of their passkeys (names tell them apart on the page and in mail). */
async function assertNameFree(db: Database, userId: number, name: string, exceptId?: number): Promise<void> {
  const taken = (await repo.listUserPasskeys(db, userId)).some((p) => p.id !== exceptId && p.name.toLowerCase() === name.toLowerCase());
  if (taken) throw new FieldError('name', `You already have a passkey named "${name}". Choose another name.`);
}

/** The options for navigator.credentials.create(); the caller keeps `challenge` for the answer. */
export async function registrationOptions(deps: PasskeysDeps, user: PasskeyOwner, name: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
  await assertNameFree(deps.db, user.id, name);
  const existing = await repo.listUserPasskeys(deps.db, user.id);
  return generateRegistrationOptions({
    rpName: RP_NAME,
    rpID: relyingParty(deps.publicUrl).rpID,
    userName: user.email,
    userDisplayName: user.email,
    timeout: CEREMONY_TIMEOUT_MS,
    attestationType: 'none',
    // The same authenticator twice would be one passkey under two names.
    excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: p.transports })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
  });
}

/** Why a ceremony's answer was refused, in words for the person at the browser. */
export class PasskeyRefused extends Error {}

const NOT_VERIFIED = 'Your passkey could not be verified. Try again.';

/** Verifies a registration answer against the challenge this session was given, stores the passkey, audits and mails it. */
export async function addPasskey(
  deps: PasskeysDeps,
  user: PasskeyOwner,
  name: string,
  response: RegistrationResponseJSON,
  expectedChallenge: string,
  actor: Actor,
): Promise<PasskeyView> {
  const { rpID, origin } = relyingParty(deps.publicUrl);
  let verification: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
  try {
    verification = await verifyRegistrationResponse({ response, expectedChallenge, expectedOrigin: origin, expectedRPID: rpID, requireUserVerification: true });
  } catch {
    throw new PasskeyRefused(NOT_VERIFIED);
  }
  if (!verification.verified) throw new PasskeyRefused(NOT_VERIFIED);
  const { credential } = verification.registrationInfo;
  const now = deps.clock.now();
  const view = await transaction(deps.db, async (trx) => {
    await assertNameFree(trx, user.id, name);
    if (await repo.findPasskeyByCredentialId(trx, credential.id)) throw new PasskeyRefused('This passkey is already registered.');
    const id = await repo.insertPasskey(
      trx,
      {
        userId: user.id,
        credentialId: credential.id,
        publicKey: Buffer.from(credential.publicKey),
        counter: credential.counter,
        transports: credential.transports ?? [],
        name,
      },
      now,
    );
    await deps.audit.record(actor, { action: 'passkey.add', companyId: user.companyId, target: user.email, details: { passkeyId: id, name } }, trx);
    await notify(deps, trx, user, 'passkey_added', { passkeyName: name, actor: actor.label, at: now });
    return { id, name, createdAt: now, lastUsedAt: null };
  });
  deps.mailer.wake?.();
  return view;
}

/** One of the user's own passkeys; another user's (or none) is 404, before anything about the request is judged. */
export async function findOwnPasskey(deps: Pick<PasskeysDeps, 'db'>, userId: number, passkeyId: number): Promise<PasskeyView> {
  const passkey = await repo.findUserPasskey(deps.db, userId, passkeyId);
  if (!passkey) throw notFound('We could not find that passkey among yours.');
  return { id: passkey.id, name: passkey.name, createdAt: passkey.createdAt, lastUsedAt: passkey.lastUsedAt };
}

/** Renames one of the user's own passkeys (another user's is not found); audited. */
export async function renamePasskey(deps: PasskeysDeps, user: PasskeyOwner, passkeyId: number, name: string, actor: Actor): Promise<PasskeyView> {
  return transaction(deps.db, async (trx) => {
    const passkey = await repo.findUserPasskey(trx, user.id, passkeyId);
    if (!passkey) throw notFound('We could not find that passkey among yours.');
    await assertNameFree(trx, user.id, name, passkeyId);
    await repo.renameUserPasskey(trx, user.id, passkeyId, name);
    await deps.audit.record(
      actor,
      { action: 'passkey.rename', companyId: user.companyId, target: user.email, details: { passkeyId, from: passkey.name, to: name } },
      trx,
    );
    return { id: passkey.id, name, createdAt: passkey.createdAt, lastUsedAt: passkey.lastUsedAt };
  });
}

/**
 * The second-factors policy, asked inside the removal's transaction: true when this passkey is the
 * user's last second factor and the policy asks for one (second-factors' lastFactorRequired; passed
 * in because that feature counts passkeys through this one).
 */
export type LastFactorCheck = (db: Database, userId: number) => Promise<boolean>;

export type PasskeyRemoval = { ok: true; passkey: PasskeyView } | { ok: false; reason: 'required' };

/** Removes one of the user's own passkeys (another user's is not found), unless it is a required last factor; audited and mailed. */
export async function removePasskey(
  deps: PasskeysDeps,
  user: PasskeyOwner,
  passkeyId: number,
  actor: Actor,
  lastFactorRequired: LastFactorCheck,
): Promise<PasskeyRemoval> {
  const removed = await transaction(deps.db, async (trx): Promise<PasskeyRemoval> => {
    const passkey = await repo.findUserPasskey(trx, user.id, passkeyId);
    if (!passkey) throw notFound('We could not find that passkey among yours.');
    if (await lastFactorRequired(trx, user.id)) return { ok: false, reason: 'required' };
    if (!(await repo.deleteUserPasskey(trx, user.id, passkeyId))) throw notFound('We could not find that passkey among yours.');
    await deps.audit.record(
      actor,
      { action: 'passkey.remove', companyId: user.companyId, target: user.email, details: { passkeyId, name: passkey.name } },
      trx,
    );
    await notify(deps, trx, user, 'passkey_removed', { passkeyName: passkey.name, actor: actor.label, at: deps.clock.now() });
    return { ok: true, passkey: { id: passkey.id, name: passkey.name, createdAt: passkey.createdAt, lastUsedAt: passkey.lastUsedAt } };
  });
  if (removed.ok) deps.mailer.wake?.();
  return removed;
}

/**
 * Every passkey of a user, for an operator's reset of their second factors (second-factors'
 * resetSecondFactors, inside its transaction, which audits and mails the reset as a whole).
 */
export async function removeAllPasskeys(deps: Pick<PasskeysDeps, 'db'>, userId: number): Promise<number> {
  return repo.deleteAllUserPasskeys(deps.db, userId);
}

async function notify(
  deps: PasskeysDeps,
  trx: Database,
  user: PasskeyOwner,
  kind: 'passkey_added' | 'passkey_removed',
  notice: Omit<PasskeyNotice, 'email' | 'pageUrl'>,
): Promise<void> {
  const mail = renderMail(kind, { ...notice, email: user.email, pageUrl: `${deps.publicUrl}${PASSKEYS_PATH}` });
  await deps.mailer.send({ to: user.email, kind, companyId: user.companyId, ...mail }, trx);
}

/**
 * The options for navigator.credentials.get(). Without a user (sign-in with a passkey) the browser
 * offers any passkey it holds for this site; with one (the second step after a password) only theirs.
 */
export async function authenticationOptions(deps: PasskeysDeps, userId?: number): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const allow =
    userId === undefined ? undefined : (await repo.listUserPasskeys(deps.db, userId)).map((p) => ({ id: p.credentialId, transports: p.transports }));
  return generateAuthenticationOptions({
    rpID: relyingParty(deps.publicUrl).rpID,
    allowCredentials: allow,
    userVerification: 'required',
    timeout: CEREMONY_TIMEOUT_MS,
  });
}

/** Verifies an assertion by one stored passkey and records its use (new counter, last used). */
async function verifyAssertion(
  deps: PasskeysDeps,
  passkey: repo.PasskeyRecord,
  response: AuthenticationResponseJSON,
  expectedChallenge: string,
): Promise<boolean> {
  const { rpID, origin } = relyingParty(deps.publicUrl);
  let newCounter: number;
  try {
    const verification = await verifyAuthenticationResponse({
      response,
      expectedChallenge,
      expectedOrigin: origin,
      expectedRPID: rpID,
      credential: { id: passkey.credentialId, publicKey: new Uint8Array(passkey.publicKey), counter: passkey.counter, transports: passkey.transports },
      requireUserVerification: true,
    });
    if (!verification.verified) return false;
    newCounter = verification.authenticationInfo.newCounter;
  } catch {
    // A wrong origin, challenge or signature, a counter that went backwards (a cloned authenticator), a malformed answer.
    return false;
  }
  await repo.recordPasskeyUse(deps.db, passkey.id, newCounter, deps.clock.now());
  return true;
}

/**
 * The second factor after a password: true when the assertion was made by one of this user's
 * passkeys for `expectedChallenge` (the one the session was given, taken out of it by the caller).
 */
export async function verifyPasskeyAssertion(
  deps: PasskeysDeps,
  userId: number,
  response: AuthenticationResponseJSON,
  expectedChallenge: string,
): Promise<boolean> {
  const passkey = await repo.findPasskeyByCredentialId(deps.db, response.id);
  if (!passkey || passkey.userId !== userId) return false;
  return verifyAssertion(deps, passkey, response, expectedChallenge);
}

export type PasskeySignIn = { ok: true; user: UserRecord } | { ok: false };

/**
 * A passkey standing in for the password: the passkey's user, when the assertion verifies and the
 * account may sign in (not disabled, set up: the same rule as the password's, auth's maySignIn).
 */
export async function signInWithPasskey(deps: PasskeysDeps, response: AuthenticationResponseJSON, expectedChallenge: string): Promise<PasskeySignIn> {
  const passkey = await repo.findPasskeyByCredentialId(deps.db, response.id);
  if (!passkey) return { ok: false };
  const user = await findUserById(deps, passkey.userId);
  if (!user || !maySignIn(user)) return { ok: false };
  if (!(await verifyAssertion(deps, passkey, response, expectedChallenge))) return { ok: false };
  return { ok: true, user };
}

/** The sign-in's record: last sign-in time and the audit entry, saying a passkey proved it. */
export function recordPasskeySignIn(deps: PasskeysDeps, user: UserRecord, actor: Actor): Promise<void> {
  return recordSignIn(deps, user, actor, { method: 'passkey' });
}
