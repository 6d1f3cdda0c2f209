import { z } from 'zod';

const noControlCharacters = (v: string) => !/[\u0000-\u001f\u007f]/.test(v);

/** The six digits of an authenticator app (spaces between them are forgiven). */
const totpCode = z
  .string({ message: 'Type the six digits your authenticator app shows.' })
  .transform((v) => v.replace(/\s+/g, ''))
  .pipe(z.string().regex(/^\d{6}$/, 'Type the six digits your authenticator app shows.'));

export const ConfirmTotpSchema = z.object({
  name: z
    .string({ message: 'Name the app, e.g. “Phone”.' })
    .trim()
    .min(1, 'Name the app, e.g. “Phone”.')
    .max(60, 'A name is at most 60 characters.')
    .refine(noControlCharacters, { message: 'A name cannot contain control characters.' }),
  code: totpCode,
});
export type ConfirmTotp = z.infer<typeof ConfirmTotpSchema>;

/** The second sign-in step: an authenticator code or a recovery code, in one field. */
export const SecondStepSchema = z.object({
  code: z
    .string({ message: 'Type the code from your authenticator app, or a recovery code.' })
    .trim()
    .min(1, 'Type the code from your authenticator app, or a recovery code.')
    .max(64, 'That is longer than any code: type the six digits from your app, or a recovery code like abcd-efgh-ijkl-mnop.'),
});
export type SecondStep = z.infer<typeof SecondStepSchema>;

/** A policy checkbox: ticked ('on') or absent. */
export const RequirementSchema = z.object({
  required: z.literal('on', { message: 'Tick the box or leave it empty.' }).optional(),
});
export type Requirement = z.infer<typeof RequirementSchema>;
