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

export const SignInSchema = z.object({
  email: z.string({ message: 'Enter your email address.' }).trim().min(1, 'Enter your email address.').max(254, 'An email address is at most 254 characters.').transform((e) => e.toLowerCase()),
  password: z
    .string({ message: 'Enter your password.' })
    .min(1, 'Enter your password.')
    .refine((p) => Buffer.byteLength(p, 'utf8') <= MAX_PASSWORD_BYTES, { message: `Passwords are at most ${MAX_PASSWORD_BYTES} bytes.` }),
  // Where to go after signing in; anything but one plain string (a repeated field, say) is ignored.
  next: z.unknown().optional().transform((v) => (typeof v === 'string' ? v : undefined)),
});
export type SignIn = z.infer<typeof SignInSchema>;

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

/** Only same-site relative paths may be a sign-in's `next`, never another origin. */
export function safeNext(next: string | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  return next;
}
