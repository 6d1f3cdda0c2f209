import type { Database } from '../../db/connect';
import type { FactorOwner, TotpEnrolment, TotpFactorView, UserSecondFactors } from './service';
import { PASSKEYS_PATH } from '../passkeys/service';
import { listSecondFactors, RECOVERY_CODE_COUNT } from './service';

/**
 * The Security page is a list of sections, each a template and its model: one more kind of second
 * factor is one more entry in `sections` (passkeys, listed here and managed on their own page, sit
 * between the authenticator apps and the recovery codes).
 */
export interface SecuritySection {
  id: string;
  heading: string;
  /** The section's template, included by views/second-factors/_panel.njk with `section` in scope. */
  template: string;
  [key: string]: unknown;
}

/** What the page's one panel shows: the sections, an enrolment in progress, or recovery codes shown once. */
type Panel =
  | { panel: 'sections'; sections: SecuritySection[]; notice: string | null }
  | { panel: 'enrol'; enrolment: TotpEnrolment; values: Record<string, string>; errors: Record<string, string> }
  | { panel: 'codes'; codes: string[]; done: string };

const TITLE = 'Security';

interface TotpRow extends TotpFactorView {
  removeLabel: string;
}

export async function securityPageModel(deps: { db: Database }, user: FactorOwner, mustEnrol: boolean): Promise<Panel & { title: string }> {
  const mine = await listSecondFactors(deps, user.id);
  const apps = mine.totp.length > 0;
  const totp: SecuritySection & { factors: TotpRow[]; empty: string } = {
    id: 'authenticator',
    heading: 'Authenticator apps',
    template: 'second-factors/_totp.njk',
    intro:
      'An app on your phone (such as Google Authenticator, Microsoft Authenticator, 1Password or Aegis) gives a new six-digit code every 30 seconds. After your password, the console asks for one.',
    factors: mine.totp.map((f) => ({ ...f, removeLabel: `Remove ${f.name}` })),
    empty: 'No authenticator app yet: your password alone signs you in.',
  };
  const passkeys: SecuritySection & { passkeys: typeof mine.passkeys; count: string; manage: string; manageUrl: string } = {
    id: 'passkeys',
    heading: 'Passkeys',
    template: 'second-factors/_passkeys.njk',
    intro:
      'A passkey on your device or security key proves it is you with your fingerprint, face or PIN. After your password it can stand in for a code, and it can also sign you in on its own.',
    passkeys: mine.passkeys,
    count: mine.passkeys.length === 0 ? 'No passkey yet.' : mine.passkeys.length === 1 ? 'You have 1 passkey.' : `You have ${mine.passkeys.length} passkeys.`,
    manage: mine.passkeys.length === 0 ? 'Add a passkey' : 'Add, rename or remove passkeys',
    manageUrl: PASSKEYS_PATH,
  };
  const recovery: SecuritySection = {
    id: 'recovery',
    heading: 'Recovery codes',
    template: 'second-factors/_recovery.njk',
    intro: `${RECOVERY_CODE_COUNT} single-use codes for when your phone is not at hand. Each works once, in place of an authenticator code.`,
    // Recovery codes back up the authenticator apps: they come with the first one and go with the last.
    canRegenerate: apps,
    status: !apps ? 'You get recovery codes when you add your first authenticator app.' : `${mine.recoveryCodesLeft} of ${RECOVERY_CODE_COUNT} codes unused.`,
    low: apps && mine.recoveryCodesLeft <= 3,
  };
  const notice = mustEnrol ? 'Your account needs a second factor before you can use the console. Add an authenticator app or a passkey to continue.' : null;
  return { title: TITLE, panel: 'sections', sections: [totp, passkeys, recovery], notice };
}

export function enrolmentModel(enrolment: TotpEnrolment, values: Record<string, string>, errors: Record<string, string>): Panel & { title: string } {
  return { title: TITLE, panel: 'enrol', enrolment, values, errors };
}

export function recoveryCodesModel(codes: string[], done: string): Panel & { title: string } {
  return { title: TITLE, panel: 'codes', codes, done };
}

export function operatorPolicyModel(required: boolean): { title: string; required: boolean; status: string } {
  return {
    title: 'Sign-in security',
    required,
    status: required
      ? 'Operators must have a second factor. An operator without one adds it at their next sign-in.'
      : 'Operators may sign in with a password alone.',
  };
}

/** The code form of the second step: authenticator codes and recovery codes (absent when the user has neither). */
interface CodeForm {
  label: string;
  hint: string;
  button: string;
}

/** The passkey part of the second step: the button the page script drives, and what is said without script or support. */
interface PasskeyStep {
  button: string;
  optionsUrl: string;
  answerUrl: string;
  needsScript: string;
  unsupported: string;
}

export interface SecondStepModel {
  title: string;
  intro: string;
  code: CodeForm | null;
  passkey: PasskeyStep | null;
  startAgain: string;
}

/** The second sign-in step's words, from the factors of the user whose password was right: only what they can use is offered. */
export function secondStepModel(mine: UserSecondFactors): SecondStepModel {
  const apps = mine.totp.length > 0;
  const codes = apps || mine.recoveryCodesLeft > 0;
  const keys = mine.passkeys.length > 0;
  const code: CodeForm | null = !codes
    ? null
    : apps
      ? {
          label: 'Authenticator code or recovery code',
          hint: 'Six digits from your app, or one of your recovery codes (like abcd-efgh-ijkl-mnop) if your phone is not at hand.',
          button: 'Sign in',
        }
      : { label: 'Recovery code', hint: 'One of your recovery codes, like abcd-efgh-ijkl-mnop.', button: 'Sign in' };
  const otherwise = codes
    ? apps
      ? ' Without it, type a code below.'
      : ' Without it, use a recovery code below.'
    : ' Without it, you cannot finish signing in here.';
  const passkey: PasskeyStep | null = keys
    ? {
        button: 'Use a passkey',
        optionsUrl: '/sign-in/second-factor/passkey/options',
        answerUrl: '/sign-in/second-factor/passkey',
        needsScript: `Using a passkey needs JavaScript: your browser talks to the passkey. Turn JavaScript on and reload this page.${otherwise}`,
        unsupported: `This browser cannot use passkeys.${otherwise}`,
      }
    : null;
  const intro =
    keys && apps
      ? 'Your password is right. Now use one of your passkeys, or type the code your authenticator app shows for this console.'
      : keys
        ? 'Your password is right. Now use your passkey: your device or security key asks for your fingerprint, face or PIN.'
        : apps
          ? 'Your password is right. Now type the code your authenticator app shows for this console.'
          : 'Your password is right. Now type one of your recovery codes.';
  return { title: 'Second step', intro, code, passkey, startAgain: 'Start again' };
}
