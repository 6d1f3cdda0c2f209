import type { Database } from '../../db/connect';
import type { FactorOwner, TotpEnrolment, TotpFactorView } from './service';
import { listSecondFactors, RECOVERY_CODE_COUNT } from './service';

/**
 * The Security page is a list of sections, each a template and its model: one more kind of second
 * factor is one more entry in `sections` (the passkeys section goes between the authenticator apps
 * and the recovery codes).
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
  const totp: SecuritySection & { factors: TotpRow[]; empty: string } = {
    id: 'authenticator',
    heading: 'Authenticator apps',
    template: 'second-factors/_totp.njk',
    intro:
      'An app on your phone (such as Google Authenticator, Microsoft Authenticator, 1Password or Aegis) gives a new six-digit code every 30 seconds. After your password, the console asks for one.',
    factors: mine.totp.map((f) => ({ ...f, removeLabel: `Remove ${f.name}` })),
    empty: 'No authenticator app yet: your password alone signs you in.',
  };
  const recovery: SecuritySection = {
    id: 'recovery',
    heading: 'Recovery codes',
    template: 'second-factors/_recovery.njk',
    intro: `${RECOVERY_CODE_COUNT} single-use codes for when your phone is not at hand. Each works once, in place of an authenticator code.`,
    canRegenerate: mine.hasAny,
    status: !mine.hasAny
      ? 'You get recovery codes when you add your first authenticator app.'
      : `${mine.recoveryCodesLeft} of ${RECOVERY_CODE_COUNT} codes unused.`,
    low: mine.hasAny && mine.recoveryCodesLeft <= 3,
  };
  const notice = mustEnrol ? 'Your account needs a second factor before you can use the console. Add an authenticator app to continue.' : null;
  // Passkeys: one more section here (see the comment on SecuritySection).
  return { title: TITLE, panel: 'sections', sections: [totp, recovery], notice };
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
