import { z } from 'zod';

const MAX_PASSWORD_BYTES = 72;

export const emailField = z
  .string({ message: 'Enter an email address.' })
  .trim()
  .min(1, 'Enter an email address.')
  .max(254, 'An email address is at most 254 characters.')
  .pipe(z.email({ message: 'Enter an email address like name@example.com.' }))
  .transform((email) => email.toLowerCase());

/** A new password: long enough to resist guessing, short enough for bcrypt (never silently truncated). */
export const newPasswordField = z
  .string({ message: 'Choose a password.' })
  .min(12, 'Use at least 12 characters.')
  .refine((p) => Buffer.byteLength(p, 'utf8') <= MAX_PASSWORD_BYTES, {
    message: `Use at most ${MAX_PASSWORD_BYTES} bytes (fewer if you use accented letters or emoji): longer passwords would be cut short.`,
  });

export const companyNameField = z
  .string({ message: 'Enter a company name.' })
  .trim()
  .min(1, 'Enter a company name.')
  .max(100, 'A company name is at most 100 characters.')
  .refine((name) => !/[\u0000-\u001f\u007f]/.test(name), { message: 'A company name cannot contain control characters.' });

/** The password a person already has, typed to sign in or to confirm it is them. */
const currentPasswordField = z
  .string({ message: 'Enter your password.' })
  .min(1, 'Enter your password.')
  .refine((p) => Buffer.byteLength(p, 'utf8') <= MAX_PASSWORD_BYTES, { message: `Passwords are at most ${MAX_PASSWORD_BYTES} bytes.` });

export const SignInSchema = z.object({
  email: z
    .string({ message: 'Enter your email address.' })
    .trim()
    .min(1, 'Enter your email address.')
    .max(254, 'An email address is at most 254 characters.')
    .transform((e) => e.toLowerCase()),
  password: currentPasswordField,
  // Where to go after signing in; anything but one plain string (a repeated field, say) is ignored.
  next: z
    .unknown()
    .optional()
    .transform((v) => (typeof v === 'string' ? v : undefined)),
});
export type SignIn = z.infer<typeof SignInSchema>;

/**
 * The re-authentication form's answer (src/http/recent-check.ts). Its field has a name no protected
 * form uses, because it travels in the same body as the action's own fields.
 */
export const REAUTH_FIELD = 'reauth_password';
/** The other answer, for someone with an authenticator app: its current six-digit code. */
export const REAUTH_CODE_FIELD = 'reauth_code';
/** A field that may be left empty: anything but one plain string counts as empty. */
const optionalText = z
  .unknown()
  .optional()
  .transform((v) => (typeof v === 'string' ? v : ''));
export const ReauthSchema = z
  .object({ [REAUTH_FIELD]: optionalText, [REAUTH_CODE_FIELD]: optionalText.transform((v) => v.replace(/\s+/g, '')) })
  .superRefine((v, ctx) => {
    if (v[REAUTH_FIELD] === '' && v[REAUTH_CODE_FIELD] === '') {
      ctx.addIssue({ code: 'custom', path: [REAUTH_FIELD], message: 'Enter your password.' });
    } else if (v[REAUTH_CODE_FIELD] !== '' && !/^\d{6}$/.test(v[REAUTH_CODE_FIELD])) {
      ctx.addIssue({ code: 'custom', path: [REAUTH_CODE_FIELD], message: 'An authenticator code is the six digits your app shows now.' });
    } else if (Buffer.byteLength(v[REAUTH_FIELD], 'utf8') > MAX_PASSWORD_BYTES) {
      ctx.addIssue({ code: 'custom', path: [REAUTH_FIELD], message: `Passwords are at most ${MAX_PASSWORD_BYTES} bytes.` });
    }
  });

const confirmed = <T extends z.ZodObject<{ password: z.ZodType<string>; confirm: z.ZodType<string> }>>(schema: T) =>
  schema.refine((v) => v.password === v.confirm, { message: 'The two passwords are not the same.', path: ['confirm'] });

export const SetupSchema = confirmed(
  z.object({
    token: z.string().max(200),
    companyName: companyNameField,
    email: emailField,
    password: newPasswordField,
    confirm: z.string({ message: 'Type the password again.' }),
  }),
);
export type Setup = z.infer<typeof SetupSchema>;

export const SetPasswordSchema = confirmed(
  z.object({
    token: z.string().max(200),
    password: newPasswordField,
    confirm: z.string({ message: 'Type the password again.' }),
  }),
);
export type SetPassword = z.infer<typeof SetPasswordSchema>;

const MAX_NEXT_LENGTH = 2000;
const DECODING_ROUNDS = 3;
/**
 * Browsers drop tabs and newlines from a URL (`/\t/evil.com` becomes `//evil.com`, another site)
 * and read a backslash as a slash; other control characters and spaces have no place in our paths.
 */
const UNSAFE_IN_PATH = /[\u0000-\u001f\u007f-\u009f\s\\]/;
const LOCAL = 'http://local.invalid';

const isPlainPath = (path: string): boolean => path.startsWith('/') && !path.startsWith('//') && !UNSAFE_IN_PATH.test(path);

/**
 * Only plain same-site paths may be a sign-in's `next`; anything else goes to the default page.
 * The value is checked as sent and percent-decoded layer by layer (what a proxy or a browser might
 * decode), so `/%09/evil.com` or `/%252F/evil.com` are refused as well.
 */
export function safeNext(next: string | undefined): string {
  if (!next || next.length > MAX_NEXT_LENGTH || !isPlainPath(next) || new URL(next, LOCAL).origin !== LOCAL) return '/';
  let layer = next;
  for (let round = 0; round < DECODING_ROUNDS; round++) {
    if (!isPlainPath(layer)) return '/';
    let decoded: string;
    try {
      decoded = decodeURIComponent(layer);
    } catch {
      return '/'; // a stray % or broken UTF-8: no path of ours looks like that
    }
    if (decoded === layer) return next;
    layer = decoded;
  }
  return '/';
}
