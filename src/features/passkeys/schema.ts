import { z } from 'zod';

export { IdParam } from '../credentials/schema';

export const PASSKEY_NAME_MAX = 60;

/** What the person calls a passkey, so they can tell them apart ("Work laptop", "YubiKey 5C"). */
export const passkeyNameField = z
  .string({ message: 'Give the passkey a name, such as "Work laptop".' })
  .trim()
  .superRefine((value, ctx) => {
    const fail = (message: string) => ctx.addIssue({ code: 'custom', message });
    if (value.length === 0) return fail('Give the passkey a name, such as "Work laptop".');
    if (/[\u0000-\u001f\u007f-\u009f]/.test(value)) return fail('A passkey name cannot contain control characters (tabs, line breaks and the like).');
    if ([...value].length > PASSKEY_NAME_MAX)
      return fail(`A passkey name can have at most ${PASSKEY_NAME_MAX} characters (this one has ${[...value].length}).`);
  });

/**
 * The browser's answer to a ceremony, as @simplewebauthn/browser serializes it (base64url strings in
 * nested objects). Only its outline is checked here; the library verifies every part of it.
 */
const ceremonyResponse = z
  .object(
    {
      id: z.string().min(1).max(1024),
      rawId: z.string().min(1).max(1024),
      type: z.literal('public-key'),
      response: z.record(z.string(), z.unknown()),
    },
    { message: 'The browser did not send a passkey answer. Try again.' },
  )
  .loose();

export const AddPasskeySchema = z.object({ name: passkeyNameField });
export type AddPasskey = z.infer<typeof AddPasskeySchema>;

/** The add form's second half, sent by the page script after the browser's ceremony. */
export const RegistrationSchema = z.object({ name: passkeyNameField, response: ceremonyResponse });

export const AssertionSchema = z.object({ response: ceremonyResponse });
