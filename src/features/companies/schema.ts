import { z } from 'zod';
import { companyNameField, emailField } from '../auth/schema';
import { CREDENTIAL_LIFETIME_DAYS } from './service';
import type { CredentialLifetimeDays } from './service';

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

const lifetimeValues = ['none', ...CREDENTIAL_LIFETIME_DAYS.map(String)] as [string, ...string[]];

/** A credential lifetime as a form sends it ('none', '30', '90', '180', '365'): days, or null for none. */
export const credentialLifetimeField = (message: string) =>
  z.enum(lifetimeValues, { message }).transform((v) => (v === 'none' ? null : (Number(v) as CredentialLifetimeDays)));

/** The operator's maximum credential lifetime for a company. */
export const CredentialLifetimePolicySchema = z.object({
  maxLifetime: credentialLifetimeField('Choose a maximum lifetime: 30, 90, 180 or 365 days, or no maximum.'),
});

export const LeakPolicySchema = z.object({
  policy: z.enum(['revoke', 'report'], { message: 'Choose what a leak report does: revoke at once, or only tell the administrators.' }),
});
