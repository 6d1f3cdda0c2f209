import type { FieldErrors } from '../../http/validate';
import { REAUTH_FIELD } from '../auth/schema';
import { PASSKEY_NAME_MAX } from './schema';
import type { PasskeyView } from './service';

export interface PasskeysPageModel {
  /** The add form's values and errors. */
  values?: Record<string, string>;
  errors?: FieldErrors;
  /** A rename that failed: shown open by its passkey, with what was typed and why. */
  renaming?: { id: number; value: string; error: string };
  message?: string;
  /** The last check of the person is over 10 minutes old: the add form asks for the password too (sudo mode). */
  needsCheck?: boolean;
  /** Why an action on the list was refused (shown where `message` would be). */
  refusal?: string;
}

/** The words of the passkeys page, with its list: templates only place them. */
export function passkeysPage(list: PasskeyView[], model: PasskeysPageModel) {
  return {
    title: 'Passkeys',
    back: { label: 'Back to Security', url: '/account/security' },
    passkeys: list,
    count: list.length === 0 ? 'You have no passkeys yet.' : list.length === 1 ? 'You have 1 passkey.' : `You have ${list.length} passkeys.`,
    nameHint: `Up to ${PASSKEY_NAME_MAX} characters, so you can tell your passkeys apart, such as "Work laptop" or "YubiKey".`,
    needsScript: 'Passkeys need JavaScript: your browser talks to the passkey. Turn JavaScript on to add one; the passkeys you have can still be removed here.',
    unsupported: 'This browser cannot use passkeys. Use a current browser to add one; the passkeys you have can still be removed here.',
    values: model.values ?? {},
    errors: model.errors ?? {},
    renaming: model.renaming,
    message: model.message,
    reauth: {
      field: REAUTH_FIELD,
      label: 'Your password',
      hint: 'Adding a passkey needs a check that it is you within the last 10 minutes.',
      visible: model.needsCheck === true,
    },
    refusal: model.refusal,
  };
}
