import querystring from 'node:querystring';
import { z } from 'zod';
import { parseOrThrow } from '../../http/validate';
import { SCOPE_TOKEN } from '../oauth/schema';

/** GET /auth/verify?scope=a%20b (or scope=a&scope=b): every listed scope is required. */
export const VerifyQuerySchema = z.object({
  scope: z
    .union([z.string(), z.array(z.string()).max(20)])
    .optional()
    .transform((value, ctx): string[] => {
      const scopes = (Array.isArray(value) ? value.join(' ') : (value ?? '')).split(' ').filter((s) => s !== '');
      const bad = scopes.find((s) => !SCOPE_TOKEN.test(s) || s.length > 200);
      if (bad !== undefined) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(bad.slice(0, 40))} is not a valid scope name.` });
        return z.NEVER;
      }
      return scopes;
    }),
});

/**
 * The scopes /auth/verify requires, from its raw query string. The usual query (none, or one `scope`
 * of valid names) is read without zod, which costs more than the rest of the check; anything else
 * goes through VerifyQuerySchema, whose message says what is wrong.
 */
export function requiredScopes(query: string): string[] {
  if (query === '') return [];
  const parsed = querystring.parse(query);
  const { scope } = parsed;
  if (scope === undefined) return [];
  if (typeof scope === 'string') {
    const scopes = scope.split(' ').filter((s) => s !== '');
    if (scopes.every((s) => s.length <= 200 && SCOPE_TOKEN.test(s))) return scopes;
  }
  return parseOrThrow(VerifyQuerySchema, parsed).scope;
}
