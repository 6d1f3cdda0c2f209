import { z } from 'zod';
import { companyNameField, emailField } from '../auth/schema';

export const CreateCompanySchema = z.object({ name: companyNameField });
export type CreateCompany = z.infer<typeof CreateCompanySchema>;

export const InviteSchema = z.object({
  email: emailField,
  isOperator: z.literal('on', { message: 'Tick “Also an operator” or leave it empty.' }).optional(),
});
export type Invite = z.infer<typeof InviteSchema>;

export const IdParam = z.object({ id: z.coerce.number({ message: 'must be a number' }).int().positive().max(Number.MAX_SAFE_INTEGER) });

export const CompanyScopesSchema = z.object({
  scopes: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v])),
});

export const LeakPolicySchema = z.object({
  policy: z.enum(['revoke', 'report'], { message: 'Choose what a leak report does: revoke at once, or only tell the administrators.' }),
});
