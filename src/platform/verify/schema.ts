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
  // The commonest query, a lone `scope=...`, is decoded as querystring.parse would, without building its object.
  if (query.startsWith('scope=') && !query.includes('&')) {
    const scopes = validScopes(querystring.unescape(query.slice(6).replaceAll('+', ' ')));
    if (scopes) return scopes;
  }
  const parsed = querystring.parse(query);
  const { scope } = parsed;
  if (scope === undefined) return [];
  const scopes = typeof scope === 'string' ? validScopes(scope) : undefined;
  return scopes ?? parseOrThrow(VerifyQuerySchema, parsed).scope;
}

/** The names in a scope parameter, if every one is valid (at most 200 characters each); undefined sends it to zod for the message. */
function validScopes(scope: string): string[] | undefined {
  const scopes = scope.split(' ').filter((s) => s !== '');
  return scopes.every((s) => s.length <= 200 && SCOPE_TOKEN.test(s)) ? scopes : undefined;
}
