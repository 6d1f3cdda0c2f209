import { z } from 'zod';
import { OUTBOX_STATES } from './repo';
import type { OutboxState } from './repo';

const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

export const OutboxQuerySchema = z.object({
  state: z.preprocess(
    blankToUndefined,
    z.enum(OUTBOX_STATES as [OutboxState, ...OutboxState[]], { message: 'Choose a delivery state from the list.' }).optional(),
  ),
  kind: z.preprocess(
    blankToUndefined,
    z
      .string()
      .trim()
      .max(64, 'Choose a kind from the list.')
      .regex(/^[a-z_]+$/, 'Choose a kind from the list.')
      .optional(),
  ),
  page: z.coerce.number().int().min(1).max(100_000).default(1),
});
export type OutboxQuery = z.infer<typeof OutboxQuerySchema>;

export const IdParam = z.object({ id: z.coerce.number({ message: 'must be a number' }).int().positive().max(Number.MAX_SAFE_INTEGER) });
