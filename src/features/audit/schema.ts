import { z } from 'zod';

const day = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v ? v : undefined))
  .pipe(z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'Use a date like 2026-01-31.').refine((v) => !Number.isNaN(Date.parse(`${v}T00:00:00Z`)), 'That is not a real date.').optional());

export const AuditQuerySchema = z.object({
  action: z
    .string()
    .trim()
    .max(64, 'An action is at most 64 characters.')
    .regex(/^[a-z_.]*$/, 'Choose an action from the list.')
    .optional()
    .transform((v) => v || undefined),
  from: day,
  to: day,
  company: z.union([z.literal(''), z.coerce.number().int().positive()]).optional().transform((v) => (v === '' ? undefined : v)),
  page: z.coerce.number().int().min(1).max(100_000).default(1),
});
export type AuditQuery = z.infer<typeof AuditQuerySchema>;
