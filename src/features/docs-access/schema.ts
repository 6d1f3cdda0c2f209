import { z } from 'zod';
import { emailField } from '../auth/schema';
import { ACCESS_STATUSES } from './repo';
import type { AccessStatus } from './repo';

const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

/** The Email step of "Request access to the OAuth 2.0 API documentation". */
export const RequestEmailSchema = z.object({ email: emailField });
export type RequestEmail = z.infer<typeof RequestEmailSchema>;

/** Which step of the area to show on GET (the Request Access button asks for the Email step). */
export const AreaQuerySchema = z.object({
  step: z.preprocess(blankToUndefined, z.enum(['start', 'email']).default('start')),
});

/** Grant or Deny: the operator's optional message goes into the email to the requester. */
export const DecisionSchema = z.object({
  message: z.preprocess(
    (v) => (typeof v === 'string' ? v.replace(/\r\n?/g, '\n').trim() : v),
    z
      .string({ message: 'The message must be text.' })
      .max(1000, 'A message is at most 1000 characters.')
      .refine((m) => !/[\u0000-\u0008\u000b-\u001f\u007f]/.test(m), { message: 'A message cannot contain control characters.' })
      .optional()
      .transform((m) => (m ? m : null)),
  ),
});
export type Decision = z.infer<typeof DecisionSchema>;

export const AccessRequestsQuerySchema = z.object({
  status: z.preprocess(
    blankToUndefined,
    z.enum(['all', ...ACCESS_STATUSES] as [AccessStatus | 'all', ...(AccessStatus | 'all')[]], { message: 'Choose a status from the list.' }).default('all'),
  ),
  company: z.preprocess(blankToUndefined, z.coerce.number({ message: 'Choose a company from the list.' }).int().positive().optional()),
  email: z.preprocess(blankToUndefined, z.string().trim().max(254, 'Search with at most 254 characters.').optional()),
  page: z.coerce.number().int().min(1).max(100_000).default(1),
});
export type AccessRequestsQuery = z.infer<typeof AccessRequestsQuerySchema>;

export const IdParam = z.object({ id: z.coerce.number({ message: 'must be a number' }).int().positive().max(Number.MAX_SAFE_INTEGER) });

/** The personal documentation link's token: 32 random bytes, base64url. Anything else is not one of ours. */
export const DocsTokenSchema = z.object({ token: z.string().regex(/^[A-Za-z0-9_-]{43}$/) });
