import crypto from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import type { Database } from '../../db/connect';
import { transaction } from '../../db/connect';
import type { Clock } from '../../clock';
import { MINUTE } from '../../clock';
import { FieldError, notFound } from '../../http/errors';
import { safeEqual, seal, sha256, unseal } from '../../crypto';
import type { Actor, AuditLog } from '../audit/service';
import { findUserById, readSetting, writeSetting } from '../auth/service';
import { findCompanyName } from '../companies/service';
import type { SignInThrottle } from '../auth/service';
import type { Mailer } from '../mail/service';
import { composeMail } from '../mail/service';
import { countPasskeysByCompanyUser, listPasskeys, removeAllPasskeys, verifyPasskeyAssertion } from '../passkeys/service';
import type { PasskeyView, PasskeysDeps } from '../passkeys/service';
import * as repo from './repo';

export interface SecondFactorDeps {
  db: Database;
  clock: Clock;
  audit: AuditLog;
  mailer: Mailer;
  publicUrl: string;
  /** The key authenticator secrets are sealed with (src/crypto.ts deriveSealingKey, purpose 'second-factors/v1'). */
  sealKey: Buffer;
}

/** Whose factors: the signed-in user (CurrentUser) or a user an operator or the CLI found. */
export interface FactorOwner {
  id: number;
  email: string;
  companyId: number;
}

export const SEALING_PURPOSE = 'second-factors/v1';
export const TOTP_PERIOD_S = 30;
const TOTP_PERIOD_MS = TOTP_PERIOD_S * 1000;
/** One step either side of now: a phone's clock a little off still works; two steps (60 s) off does not. */
export const TOTP_WINDOW = 1;
const ISSUER = 'API console';
/** An authenticator app added but not confirmed with a code within this time must be added again. */
export const ENROLMENT_TTL_MS = 15 * MINUTE;
export const RECOVERY_CODE_COUNT = 10;
/** 10 random bytes: 80 bits, written as 16 base32 letters in four groups. */
const RECOVERY_CODE_BYTES = 10;
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

// ------------------------------------------------------------------ what a user has

export interface TotpFactorView {
  id: number;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

/** The one answer to "which second factors does this user have": authenticator apps and passkeys (asked of the passkeys service). */
export interface UserSecondFactors {
  totp: TotpFactorView[];
  passkeys: PasskeyView[];
  recoveryCodesLeft: number;
  /** At least one factor that the second sign-in step can ask for (recovery codes alone are not one). */
  hasAny: boolean;
}

export async function listSecondFactors(deps: { db: Database }, userId: number): Promise<UserSecondFactors> {
  const totp = (await repo.listConfirmedTotp(deps.db, userId)).map(({ id, name, createdAt, lastUsedAt }) => ({ id, name, createdAt, lastUsedAt }));
  const passkeys = await listPasskeys(deps, userId);
  const recoveryCodesLeft = (await repo.listUnusedRecoveryCodes(deps.db, userId)).length;
  return { totp, passkeys, recoveryCodesLeft, hasAny: totp.length > 0 || passkeys.length > 0 };
}

/** The policy asks this user for a second factor and they have none (no authenticator app, no passkey): they must enrol before anything else. */
export async function mustEnrol(deps: { db: Database }, userId: number): Promise<boolean> {
  const state = await repo.readEnrolmentState(deps.db, userId);
  return state !== undefined && state.required && !state.hasTotp && (await listPasskeys(deps, userId)).length === 0;
}

/**
 * True when the factor about to go (an authenticator app or a passkey) is the user's last one and the
 * policy asks them for a second factor: apps and passkeys are counted together. Called inside the
 * removal's transaction (`db` is the transaction), before the factor is deleted.
 */
export async function lastFactorRequired(db: Database, userId: number): Promise<boolean> {
  const state = await repo.readEnrolmentState(db, userId);
  if (!state?.required) return false;
  const factors = (await repo.listConfirmedTotp(db, userId)).length + (await listPasskeys({ db }, userId)).length;
  return factors <= 1;
}

// ------------------------------------------------------------------ the second sign-in step

export type SecondFactorResult =
  | { ok: true; method: 'totp'; factorId: number }
  | { ok: true; method: 'passkey' }
  | { ok: true; method: 'recovery_code'; codesLeft: number }
  | { ok: false; reason: 'throttled'; retryAfter: number }
  /** A right code of a time step already spent: accepted once only. */
  | { ok: false; reason: 'used' }
  | { ok: false; reason: 'invalid' };

const digitsOnly = (answer: string): string => answer.replace(/\s+/g, '');
const normalizeRecoveryCode = (answer: string): string => answer.toLowerCase().replace(/[\s-]+/g, '');
const isTotpShape = (answer: string): boolean => /^\d{6}$/.test(digitsOnly(answer));
const isRecoveryShape = (answer: string): boolean => /^[a-z2-7]{16}$/.test(normalizeRecoveryCode(answer));

function totpFor(secretBase32: string, label: string): TOTP {
  return new TOTP({ issuer: ISSUER, label, algorithm: 'SHA1', digits: 6, period: TOTP_PERIOD_S, secret: Secret.fromBase32(secretBase32) });
}

/** The time step a code belongs to (within the window around now), or undefined when it is not a code of this secret. */
function matchingStep(secretBase32: string, code: string, now: number): number | undefined {
  const delta = totpFor(secretBase32, 'check').validate({ token: digitsOnly(code), timestamp: now, window: TOTP_WINDOW });
  return delta === null ? undefined : Math.floor(now / TOTP_PERIOD_MS) + delta;
}

function unsealSecret(deps: Pick<SecondFactorDeps, 'sealKey'>, sealed: string): string | undefined {
  return unseal(sealed, deps.sealKey);
}

/**
 * Checks an answer to the second sign-in step: an authenticator code (six digits) or a recovery code.
 * Throttled like passwords (the caller's `new SignInThrottle(db, clock, 'second-factor')`): the attempt
 * is counted before it is checked, per source address and per account. A code is accepted once; a
 * recovery code is spent, audited and mailed to the user.
 */
export async function verifySecondFactor(
  deps: SecondFactorDeps,
  throttle: SignInThrottle,
  user: FactorOwner,
  address: string,
  answer: string,
  actor: Actor,
): Promise<SecondFactorResult> {
  return throttledStep(deps, throttle, user, address, actor, async () =>
    isTotpShape(answer)
      ? checkTotp(deps, user, answer)
      : isRecoveryShape(answer)
        ? spendRecoveryCode(deps, user, answer, actor)
        : ({ ok: false, reason: 'invalid' } as const),
  );
}

/**
 * The second step with a passkey: true only for an assertion made by one of this user's passkeys for
 * `expectedChallenge` (the one the pending sign-in's session was given). Counted by the same throttle as
 * codes, and a refused assertion is audited like a wrong code.
 */
export async function verifyPasskeyStep(
  deps: PasskeysDeps,
  throttle: SignInThrottle,
  user: FactorOwner,
  address: string,
  response: Parameters<typeof verifyPasskeyAssertion>[2],
  expectedChallenge: string,
  actor: Actor,
): Promise<SecondFactorResult> {
  return throttledStep(deps, throttle, user, address, actor, async () =>
    (await verifyPasskeyAssertion(deps, user.id, response, expectedChallenge)) ? { ok: true, method: 'passkey' } : { ok: false, reason: 'invalid' },
  );
}

/** One answer to the second step: counted before it is checked (per address and per account); a refusal is audited. */
async function throttledStep(
  deps: { audit: AuditLog },
  throttle: SignInThrottle,
  user: FactorOwner,
  address: string,
  actor: Actor,
  check: () => Promise<SecondFactorResult>,
): Promise<SecondFactorResult> {
  const retryAfter = await throttle.reserve(address, String(user.id));
  if (retryAfter > 0) return { ok: false, reason: 'throttled', retryAfter };
  const result = await check();
  if (result.ok) await throttle.succeeded(address, String(user.id));
  else
    await deps.audit.record(actor, { action: 'auth.second_factor_failed', companyId: user.companyId, target: user.email, details: { reason: result.reason } });
  return result;
}

/**
 * Sudo mode's other answer (src/http/recent-check.ts): a current code of one of the user's
 * authenticator apps, spent like a sign-in code (a replay is refused). The caller throttles and audits.
 */
export async function spendAuthenticatorCode(deps: SecondFactorDeps, user: FactorOwner, code: string): Promise<boolean> {
  return isTotpShape(code) && (await checkTotp(deps, user, code)).ok;
}

/** Whether the user has an authenticator app, so sudo mode's question may offer its code. */
export async function hasAuthenticatorApp(deps: { db: Database }, userId: number): Promise<boolean> {
  return (await repo.listConfirmedTotp(deps.db, userId)).length > 0;
}

async function checkTotp(deps: SecondFactorDeps, user: FactorOwner, code: string): Promise<SecondFactorResult> {
  const now = deps.clock.now();
  for (const factor of await repo.listConfirmedTotp(deps.db, user.id)) {
    const secret = unsealSecret(deps, factor.secretSealed);
    const step = secret === undefined ? undefined : matchingStep(secret, code, now);
    if (step === undefined) continue;
    return (await repo.spendTotpStep(deps.db, factor.id, step, now)) ? { ok: true, method: 'totp', factorId: factor.id } : { ok: false, reason: 'used' };
  }
  return { ok: false, reason: 'invalid' };
}

async function spendRecoveryCode(deps: SecondFactorDeps, user: FactorOwner, answer: string, actor: Actor): Promise<SecondFactorResult> {
  const hash = sha256(normalizeRecoveryCode(answer));
  const result = await transaction(deps.db, async (trx): Promise<SecondFactorResult> => {
    const codes = await repo.listUnusedRecoveryCodes(trx, user.id);
    // Every code is compared, in constant time, whichever matches.
    const match = codes.reduce<number | undefined>((found, c) => (safeEqual(c.codeHash, hash) ? c.id : found), undefined);
    if (match === undefined || !(await repo.spendRecoveryCode(trx, match, deps.clock.now()))) return { ok: false, reason: 'invalid' };
    const codesLeft = codes.length - 1;
    await deps.audit.record(actor, { action: 'second_factor.recovery_code_used', companyId: user.companyId, target: user.email, details: { codesLeft } }, trx);
    await notifyUser(deps, trx, user, actor, {
      headline: 'A recovery code was used to sign in',
      what: `A recovery code was used to sign in to your account ${user.email}. ${codesLeft} unused recovery code${codesLeft === 1 ? '' : 's'} left.`,
      advice: 'If this was not you, ask an operator to reset your second factors and change your password at once.',
    });
    return { ok: true, method: 'recovery_code', codesLeft };
  });
  if (result.ok) deps.mailer.wake?.();
  return result;
}

// ------------------------------------------------------------------ enrolment of an authenticator app

export interface TotpEnrolment {
  factorId: number;
  /** The secret in base32, grouped by four for typing (manual entry). */
  secretForTyping: string;
  /** The otpauth:// URI the QR code holds. */
  uri: string;
  /** The QR code as an SVG element, rendered here (no outside service). */
  qrSvg: string;
}

/** Starts adding an authenticator app: a new secret (sealed at rest), to be confirmed with one code within 15 minutes (two tabs may each have one). */
export async function startTotpEnrolment(deps: SecondFactorDeps, user: FactorOwner): Promise<TotpEnrolment> {
  const secret = new Secret({ size: 20 }).base32;
  const now = deps.clock.now();
  const factorId = await repo.insertPendingTotp(deps.db, user.id, seal(secret, deps.sealKey), now, now - ENROLMENT_TTL_MS);
  return enrolmentOf(factorId, secret, user.email);
}

/** The enrolment again (its form came back with an error); not found once confirmed, expired or someone else's. */
export async function pendingTotpEnrolment(deps: SecondFactorDeps, user: FactorOwner, factorId: number): Promise<TotpEnrolment> {
  const secret = await pendingSecret(deps, user, factorId);
  return enrolmentOf(factorId, secret, user.email);
}

async function pendingSecret(deps: SecondFactorDeps, user: FactorOwner, factorId: number, db: Database = deps.db): Promise<string> {
  const factor = await repo.findTotp(db, user.id, factorId);
  const secret =
    factor && factor.confirmedAt === null && factor.createdAt + ENROLMENT_TTL_MS > deps.clock.now() ? unsealSecret(deps, factor.secretSealed) : undefined;
  if (secret === undefined) throw notFound('This enrolment is no longer open. Start again with “Add authenticator app”.');
  return secret;
}

async function enrolmentOf(factorId: number, secret: string, email: string): Promise<TotpEnrolment> {
  const uri = totpFor(secret, email).toString();
  const qrSvg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return { factorId, secretForTyping: secret.replace(/(.{4})(?=.)/g, '$1 '), uri, qrSvg };
}

/**
 * Keeps the authenticator app once the user typed one valid code from it (that code's step is spent).
 * The first factor comes with ten recovery codes, returned here, shown once.
 */
export async function confirmTotpEnrolment(
  deps: SecondFactorDeps,
  user: FactorOwner,
  input: { factorId: number; name: string; code: string },
  actor: Actor,
): Promise<{ recoveryCodes: string[] | null }> {
  const result = await transaction(deps.db, async (trx) => {
    const secret = await pendingSecret(deps, user, input.factorId, trx);
    const step = matchingStep(secret, input.code, deps.clock.now());
    if (step === undefined) throw new FieldError('code', 'That code is not the one your app shows now. Type the current six digits.');
    const first = (await repo.listConfirmedTotp(trx, user.id)).length === 0;
    if (!(await repo.confirmTotp(trx, input.factorId, input.name, step, deps.clock.now()))) throw notFound();
    await deps.audit.record(
      actor,
      { action: 'second_factor.add', companyId: user.companyId, target: user.email, details: { kind: 'totp', name: input.name } },
      trx,
    );
    const recoveryCodes = first ? await newRecoveryCodes(deps, trx, user.id) : null;
    await notifyUser(deps, trx, user, actor, {
      headline: 'An authenticator app was added to your account',
      what: `The authenticator app “${input.name}” was added to your account ${user.email}. It now gives the codes for your second sign-in step.`,
      advice: 'If this was not you, ask an operator to reset your second factors and change your password at once.',
    });
    return { recoveryCodes };
  });
  deps.mailer.wake?.();
  return result;
}

export type RemoveResult = { ok: true; name: string } | { ok: false; reason: 'required' };

/** Removes one authenticator app; the user's last factor (apps and passkeys counted) may not go while the policy asks for one. */
export async function removeTotp(deps: SecondFactorDeps, user: FactorOwner, factorId: number, actor: Actor): Promise<RemoveResult> {
  const result = await transaction(deps.db, async (trx): Promise<RemoveResult> => {
    const factor = await repo.findTotp(trx, user.id, factorId);
    if (!factor || factor.confirmedAt === null) throw notFound();
    const factors = await repo.listConfirmedTotp(trx, user.id);
    if (await lastFactorRequired(trx, user.id)) return { ok: false, reason: 'required' };
    await repo.deleteTotp(trx, user.id, factorId);
    // Recovery codes back up a factor: with none left, they go too.
    if (factors.length === 1) await repo.deleteRecoveryCodes(trx, user.id);
    await deps.audit.record(
      actor,
      { action: 'second_factor.remove', companyId: user.companyId, target: user.email, details: { kind: 'totp', name: factor.name } },
      trx,
    );
    await notifyUser(deps, trx, user, actor, {
      headline: 'An authenticator app was removed from your account',
      what: `The authenticator app “${factor.name}” was removed from your account ${user.email}; its codes no longer work.`,
      advice: 'If this was not you, change your password at once and ask an operator to check your account.',
    });
    return { ok: true, name: factor.name };
  });
  if (result.ok) deps.mailer.wake?.();
  return result;
}

// ------------------------------------------------------------------ recovery codes

function recoveryCode(): string {
  const bytes = crypto.randomBytes(RECOVERY_CODE_BYTES);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.replace(/(.{4})(?=.)/g, '$1-');
}

async function newRecoveryCodes(deps: SecondFactorDeps, trx: Database, userId: number): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, recoveryCode);
  await repo.replaceRecoveryCodes(
    trx,
    userId,
    codes.map((c) => sha256(normalizeRecoveryCode(c))),
    deps.clock.now(),
  );
  return codes;
}

/** A new set of ten codes, shown once; every code of the old set stops working. Only with a factor to back up. */
export async function regenerateRecoveryCodes(deps: SecondFactorDeps, user: FactorOwner, actor: Actor): Promise<string[]> {
  const codes = await transaction(deps.db, async (trx) => {
    if ((await repo.listConfirmedTotp(trx, user.id)).length === 0)
      throw new FieldError('recovery', 'Add an authenticator app first: recovery codes back up a second factor.');
    const fresh = await newRecoveryCodes(deps, trx, user.id);
    await deps.audit.record(actor, { action: 'second_factor.recovery_codes_regenerated', companyId: user.companyId, target: user.email }, trx);
    await notifyUser(deps, trx, user, actor, {
      headline: 'New recovery codes for your account',
      what: `A new set of recovery codes was made for your account ${user.email}. The old codes no longer work.`,
      advice: 'If this was not you, ask an operator to reset your second factors and change your password at once.',
    });
    return fresh;
  });
  deps.mailer.wake?.();
  return codes;
}

// ------------------------------------------------------------------ operators: reset and policy

/**
 * Removes every second factor (authenticator apps and passkeys) and recovery code of a user (a lost
 * phone); audited and mailed to the user.
 * With `companyId` (the operator's company page), a user of another company is not found.
 */
export async function resetSecondFactors(
  deps: Omit<SecondFactorDeps, 'sealKey'>,
  userId: number,
  actor: Actor,
  companyId?: number,
): Promise<{ email: string; removed: number; passkeys: number }> {
  const result = await transaction(deps.db, async (trx) => {
    const user = await findUserById({ db: trx }, userId);
    if (!user || (companyId !== undefined && user.companyId !== companyId)) throw notFound();
    const removed = await repo.deleteAllTotp(trx, user.id);
    const passkeys = await removeAllPasskeys({ db: trx }, user.id);
    const codes = await repo.deleteRecoveryCodes(trx, user.id);
    await deps.audit.record(
      actor,
      { action: 'second_factor.reset', companyId: user.companyId, target: user.email, details: { removed, passkeys, recoveryCodes: codes } },
      trx,
    );
    await notifyUser(deps, trx, user, actor, {
      headline: 'The second factors of your account were reset',
      what: `Every authenticator app, passkey and recovery code of your account ${user.email} was removed. Your password alone signs you in until you add a second factor again; if a second factor is required, you add one at your next sign-in.`,
      advice: 'If you did not ask for this, tell your operator at once.',
    });
    return { email: user.email, removed, passkeys };
  });
  deps.mailer.wake?.();
  return result;
}

/** A company's rule, and each of its users' second factors in words (by user id), for the operator's company page. */
export async function companyFactorStatus(
  deps: { db: Database },
  companyId: number,
): Promise<{ required: boolean; status: string; byUser: Record<number, { label: string; any: boolean }>; noneLabel: string }> {
  const required = await repo.isCompanyRequired(deps.db, companyId);
  const apps = await repo.countTotpByCompanyUser(deps.db, companyId);
  const passkeys = await countPasskeysByCompanyUser(deps, companyId);
  const byUser: Record<number, { label: string; any: boolean }> = {};
  for (const userId of new Set([...apps.keys(), ...passkeys.keys()])) {
    const kinds = [
      [apps.get(userId) ?? 0, 'authenticator app'],
      [passkeys.get(userId) ?? 0, 'passkey'],
    ] as const;
    const label = kinds
      .filter(([n]) => n > 0)
      .map(([n, kind]) => `${n} ${kind}${n === 1 ? '' : 's'}`)
      .join(', ');
    byUser[userId] = { label, any: true };
  }
  return {
    required,
    status: required
      ? 'Administrators must have a second factor. Those without one add it at their next sign-in.'
      : 'Administrators may sign in with a password alone (each may still add a second factor).',
    byUser,
    noneLabel: 'None',
  };
}

export async function setCompanyRequired(deps: SecondFactorDeps, companyId: number, required: boolean, actor: Actor): Promise<void> {
  await transaction(deps.db, async (trx) => {
    if ((await findCompanyName({ db: trx }, companyId)) === undefined) throw notFound();
    await repo.setCompanyRequired(trx, companyId, required, actor.userId, deps.clock.now());
    await deps.audit.record(actor, { action: 'second_factor.policy', companyId, target: 'administrators', details: { required } }, trx);
  });
}

export async function areOperatorsRequired(deps: { db: Database }): Promise<boolean> {
  return (await readSetting(deps, repo.OPERATORS_REQUIRE_KEY)) === 'on';
}

export async function setOperatorsRequired(deps: SecondFactorDeps, required: boolean, actor: Actor): Promise<void> {
  await transaction(deps.db, async (trx) => {
    await writeSetting({ db: trx }, repo.OPERATORS_REQUIRE_KEY, required ? 'on' : 'off');
    await deps.audit.record(actor, { action: 'second_factor.policy', companyId: null, target: 'operators', details: { required } }, trx);
  });
}

// ------------------------------------------------------------------ mail

async function notifyUser(
  deps: Pick<SecondFactorDeps, 'clock' | 'mailer' | 'publicUrl'>,
  trx: Database,
  user: FactorOwner,
  actor: Actor,
  words: { headline: string; what: string; advice: string },
): Promise<void> {
  const model = { ...words, actor: actor.label, at: deps.clock.now(), ip: actor.ip, consoleUrl: `${deps.publicUrl}/account/security` };
  await deps.mailer.send(composeMail('security_notice', user.email, user.companyId, model), trx);
}
