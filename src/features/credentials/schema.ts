import { z } from 'zod';
import { credentialLifetimeField } from '../companies/schema';
import { parseAllowlist } from './ranges';
import { OVERLAPS } from './service';

export const USERNAME_MIN = 3;
export const USERNAME_MAX = 64;

/** Characters a username may not hold, named for the message (at most a few, in order of appearance). */
function forbiddenCharacters(value: string): string[] {
  const seen = new Set<string>();
  for (const ch of value) if (!/[A-Za-z0-9._-]/.test(ch)) seen.add(ch);
  return [...seen].slice(0, 4);
}

const describe = (ch: string): string => {
  const code = ch.codePointAt(0) ?? 0;
  return code < 0x20 || code === 0x7f ? `a control character (U+${code.toString(16).toUpperCase().padStart(4, '0')})` : `“${ch}”`;
};

/**
 * The Basic Auth username: specific to the API, unique across the deployment, 3-64 characters of
 * [A-Za-z0-9._-]. Each way it can be wrong gets its own message.
 */
export const usernameField = z
  .string({ message: 'Enter a username.' })
  .trim()
  .superRefine((value, ctx) => {
    const fail = (message: string) => ctx.addIssue({ code: 'custom', message });
    if (value.length === 0) return fail('Enter a username.');
    if (/\s/.test(value)) return fail('A username cannot contain spaces. Use a dot, underscore or hyphen instead.');
    if (/[<>]/.test(value)) return fail('A username cannot contain markup such as “<” or “>”. Use only letters, digits, “.”, “_” and “-”.');
    const bad = forbiddenCharacters(value);
    if (bad.length) return fail(`A username can use only letters, digits, “.”, “_” and “-”; remove ${bad.map(describe).join(', ')}.`);
    if (value.length < USERNAME_MIN) return fail(`A username needs at least ${USERNAME_MIN} characters.`);
    if (value.length > USERNAME_MAX) return fail(`A username can have at most ${USERNAME_MAX} characters (this one has ${value.length}).`);
  });

export const GenerateApiKeySchema = z.object({ username: usernameField });
export type GenerateApiKey = z.infer<typeof GenerateApiKeySchema>;

/** Checkboxes: absent when none is ticked, a string for one, an array for several. */
export const GenerateClientSchema = z.object({
  scopes: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v])),
});
export type GenerateClient = z.infer<typeof GenerateClientSchema>;

const overlapNames = Object.keys(OVERLAPS) as [keyof typeof OVERLAPS, ...(keyof typeof OVERLAPS)[]];

export const SaveSchema = z.object({
  overlap: z.enum(overlapNames, { message: 'Choose how long the previous credential keeps working: none, 1 hour, 24 hours or 7 days.' }).default('none'),
  /** Absent: the company's default (see lifetimeDefault). */
  lifetime: credentialLifetimeField('Choose a lifetime: 30, 90, 180 or 365 days, or never expires.').optional(),
});
export type Save = z.infer<typeof SaveSchema>;

export const RevokeSchema = z.object({
  reason: z
    .string({ message: 'Say why you revoke it (at least 3 characters).' })
    .trim()
    .min(1, 'Say why you revoke it (at least 3 characters).')
    .min(3, 'The reason needs at least 3 characters.')
    .max(200, 'Keep the reason to 200 characters or fewer.')
    .refine((r) => !/[\u0000-\u0008\u000b-\u001f\u007f]/.test(r), { message: 'The reason cannot contain control characters.' }),
});
export type Revoke = z.infer<typeof RevokeSchema>;

export const IdParam = z.object({ id: z.coerce.number({ message: 'must be a number' }).int().positive().max(Number.MAX_SAFE_INTEGER) });

/** The labels of the overlap choice, in the order the page offers them. */
export const OVERLAP_CHOICES: { value: keyof typeof OVERLAPS; label: string }[] = [
  { value: 'none', label: 'None: the previous one stops working when I save' },
  { value: '1h', label: '1 hour' },
  { value: '24h', label: '24 hours' },
  { value: '7d', label: '7 days' },
];

/** The IP allowlist form: ranges one per line (or separated by spaces or commas), checked and made canonical by ranges.ts. */
export const AllowlistSchema = z.object({
  allowlist: z
    .string({ message: 'Enter the allowed ranges, one per line, or leave the field empty to allow every address.' })
    .max(10_000, 'The list is too long: an allowlist holds at most 50 ranges.')
    .transform((text, ctx) => {
      const parsed = parseAllowlist(text);
      if (parsed.ok) return parsed.allowlist;
      ctx.addIssue({ code: 'custom', message: parsed.message });
      return z.NEVER;
    }),
});
export type Allowlist = z.infer<typeof AllowlistSchema>;
