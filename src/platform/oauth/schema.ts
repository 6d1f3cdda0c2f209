import { z } from 'zod';
import { invalidRequest, invalidScope } from '../errors';

/** RFC 6749 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** A space-delimited scope list; an empty one counts as not given. */
export const ScopeList = z
  .string()
  .max(2000, 'scope is too long.')
  .transform((value, ctx): string[] | undefined => {
    const scopes = value.split(' ').filter((s) => s !== '');
    if (scopes.length === 0) return undefined;
    const bad = scopes.find((s) => !SCOPE_TOKEN.test(s));
    if (bad !== undefined) {
      ctx.addIssue({ code: 'custom', message: `scope contains ${JSON.stringify(bad.slice(0, 40))}, which is not a valid scope name.` });
      return z.NEVER;
    }
    return [...new Set(scopes)];
  });

const credential = (name: string) => z.string().max(256, `${name} is too long.`).optional();

/** POST /oauth/token (RFC 6749 4.4.2). Unknown parameters are ignored, as 3.2 asks. */
export const TokenRequestSchema = z.object({
  grant_type: z.string({ message: 'grant_type is required (client_credentials).' }).min(1, 'grant_type is required (client_credentials).'),
  scope: ScopeList.optional(),
  client_id: credential('client_id'),
  client_secret: credential('client_secret'),
});

/** POST /oauth/introspect (RFC 7662 2.1) and /oauth/revoke (RFC 7009 2.1). */
export const TokenParamSchema = z.object({
  token: z.string({ message: 'The token parameter is required.' }).min(1, 'The token parameter is required.').max(8192, 'token is too long.'),
  token_type_hint: z.string().max(64).optional(),
  client_id: credential('client_id'),
  client_secret: credential('client_secret'),
});

/** Validates an OAuth request's parameters; the first problem becomes an invalid_request error. */
export function parseOAuthRequest<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const message = issue?.message ?? 'The request is malformed.';
  // RFC 6749 5.2: a malformed scope is invalid_scope; anything else malformed is invalid_request.
  throw issue?.path[0] === 'scope' ? invalidScope(message) : invalidRequest(message);
}
