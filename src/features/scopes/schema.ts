import { z } from 'zod';

export const SCOPE_NAME_MAX = 64;
export const SCOPE_DESCRIPTION_MAX = 200;

/**
 * A scope name is one RFC 6749 section 3.3 scope-token: 1*NQCHAR, that is printable ASCII
 * (%x21-7E) except the double quote and the backslash; a space would split it into two scopes.
 */
export const scopeNameField = z
  .string({ message: 'Enter a scope name.' })
  .trim()
  .superRefine((value, ctx) => {
    const fail = (message: string) => ctx.addIssue({ code: 'custom', message });
    if (value.length === 0) return fail('Enter a scope name, such as claims:read.');
    if (/\s/.test(value)) return fail('A scope name cannot contain spaces: in OAuth 2.0 a space separates two scopes.');
    if (/["\\]/.test(value)) return fail('A scope name cannot contain a double quote (") or a backslash (\\).');
    if (/[^\x21-\x7e]/.test(value)) return fail('A scope name can use only printable ASCII characters (letters, digits and symbols such as : . _ - /).');
    if (value.length > SCOPE_NAME_MAX) return fail(`A scope name can have at most ${SCOPE_NAME_MAX} characters (this one has ${value.length}).`);
  });

export const scopeDescriptionField = z
  .string({ message: 'Describe what the scope allows.' })
  .trim()
  .min(1, 'Describe what the scope allows.')
  .max(SCOPE_DESCRIPTION_MAX, `Keep the description to ${SCOPE_DESCRIPTION_MAX} characters or fewer.`)
  .refine((d) => !/[\u0000-\u001f\u007f]/.test(d), { message: 'The description cannot contain control characters.' });

export const CreateScopeSchema = z.object({ name: scopeNameField, description: scopeDescriptionField });
export type CreateScope = z.infer<typeof CreateScopeSchema>;

export const EditScopeSchema = z.object({ description: scopeDescriptionField });
export type EditScope = z.infer<typeof EditScopeSchema>;

/** The scope a row's form acts on (a hidden field): looked up as is. */
export const ScopeParam = z.object({
  name: z
    .string({ message: 'is missing' })
    .min(1, 'is missing')
    .max(SCOPE_NAME_MAX * 2, 'is too long'),
});
