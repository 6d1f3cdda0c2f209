import { z } from 'zod';

/** A real calendar day: Date.parse alone would take 2026-02-30 for March 2nd. */
const isRealDay = (v: string): boolean => {
  const ms = Date.parse(`${v}T00:00:00Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === v;
};

const day = z
  .string({ message: 'Use a date like 2026-01-31.' })
  .trim()
  .optional()
  .transform((v) => (v ? v : undefined))
  .pipe(
    z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'Use a date like 2026-01-31.')
      .refine(isRealDay, 'That is not a real date.')
      .optional(),
  );

export const AuditQuerySchema = z
  .object({
    action: z
      .string({ message: 'Choose an action from the list.' })
      .trim()
      .max(64, 'An action is at most 64 characters.')
      .regex(/^[a-z_.]*$/, 'Choose an action from the list.')
      .optional()
      .transform((v) => v || undefined),
    from: day,
    to: day,
    company: z
      .union([z.literal(''), z.coerce.number().int().positive()], { message: 'Choose a company from the list.' })
      .optional()
      .transform((v) => (v === '' ? undefined : v)),
    page: z.coerce
      .number({ message: 'There is no such page.' })
      .int('There is no such page.')
      .min(1, 'There is no such page.')
      .max(100_000, 'There is no such page.')
      .default(1),
  })
  .refine((q) => !q.from || !q.to || q.from <= q.to, { message: 'The “To” date cannot be before the “From” date.', path: ['to'] });
export type AuditQuery = z.infer<typeof AuditQuerySchema>;
