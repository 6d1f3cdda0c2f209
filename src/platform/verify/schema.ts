import { z } from 'zod';
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
