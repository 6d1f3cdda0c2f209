import { z } from 'zod';

/** How many strings one leak report may carry, and how long each may be (ours are far shorter). */
export const MAX_LEAKED_STRINGS = 100;
export const MAX_LEAKED_STRING_LENGTH = 512;
export const MAX_URL_LENGTH = 2048;
/** The body limit of a leak report: 100 strings of 512 characters, JSON-escaped, with room to spare. */
export const LEAK_REPORT_BODY_LIMIT = 64 * 1024;

/**
 * A leak report, in the shape of GitHub's credential revocation API (POST /credentials/revoke:
 * {"credentials": ["..."]}) with the optional "url" where the strings were found. Other members are ignored.
 */
export const LeakReportSchema = z.object(
  {
    credentials: z
      .array(
        z
          .string({ message: 'Each entry of "credentials" must be a string.' })
          .min(1, 'An entry of "credentials" is empty.')
          .max(MAX_LEAKED_STRING_LENGTH, `An entry of "credentials" is longer than ${MAX_LEAKED_STRING_LENGTH} characters: it is none of our credentials.`),
        { message: 'Send "credentials": an array of the strings that were found.' },
      )
      .min(1, 'Send at least one string in "credentials".')
      .max(MAX_LEAKED_STRINGS, `Send at most ${MAX_LEAKED_STRINGS} strings in "credentials" per report.`),
    url: z
      .string({ message: '"url" must be a string: the address where the strings were found.' })
      .max(MAX_URL_LENGTH, `"url" is longer than ${MAX_URL_LENGTH} characters.`)
      .refine((u) => /^https?:\/\//i.test(u) && !/[\u0000-\u0020\u007f]/.test(u) && URL.canParse(u), {
        message: '"url" must be an http or https URL (without spaces or control characters).',
      })
      .optional(),
  },
  { message: 'Send a JSON object: {"credentials": ["..."], "url": "https://..."}.' },
);
export type LeakReportBody = z.infer<typeof LeakReportSchema>;
