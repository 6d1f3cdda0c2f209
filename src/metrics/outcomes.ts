import { HttpError } from '../http/errors';

/**
 * The fixed label values of the console's metrics. Every label value a request can produce is one of
 * these: a label never carries anything the caller sent (no usernames, ids, addresses, paths), so a
 * flood of hostile requests cannot grow the number of series.
 */
export const PLATFORM_ENDPOINTS = ['token', 'me', 'verify', 'introspect', 'revoke', 'jwks'] as const;
export type PlatformEndpoint = (typeof PLATFORM_ENDPOINTS)[number];

/**
 * How a platform API request ended. `error` is for answers that are none of the refusals (a 5xx, an
 * unexpected exception): without it those would hide among the refusals and no alert could see them.
 */
export const PLATFORM_OUTCOMES = ['ok', 'invalid_credentials', 'expired', 'revoked', 'insufficient_scope', 'throttled', 'bad_request', 'error'] as const;
export type PlatformOutcome = (typeof PLATFORM_OUTCOMES)[number];

/** A sign-in form's answer: signed in, wrong email or password (one outcome: we never say which), throttled, or a form that did not validate. */
export const SIGN_IN_OUTCOMES = ['ok', 'invalid_credentials', 'throttled', 'bad_request'] as const;
export type SignInOutcome = (typeof SIGN_IN_OUTCOMES)[number];

export const THROTTLES = ['sign_in', 'platform'] as const;
export type ThrottleName = (typeof THROTTLES)[number];

export const CREDENTIAL_KINDS = ['basic', 'oauth'] as const;
/** Credentials by status, as verification sees them (see countCredentialsByStatus and docs/operations.md, Metrics). */
export const CREDENTIAL_STATUSES = ['active', 'overlap', 'pending', 'revoked', 'expired'] as const;
export type CredentialMetricStatus = (typeof CREDENTIAL_STATUSES)[number];

/**
 * What an endedDescription (src/features/credentials/verify.ts) says about a real secret that no
 * longer works: "was replaced", "was revoked", "expired ... before it was saved". A replaced
 * credential was switched off by an administrator's Save, so it counts as revoked: both mean
 * "ended on purpose, update your configuration". The generic "invalid, expired or revoked" of a
 * bad access token matches neither pattern: it says nothing about which, so it stays
 * invalid_credentials unless the caller passes a hint.
 */
const REVOKED_DESCRIPTION = /^This (API key|client secret) was (revoked|replaced)\b/;
const EXPIRED_DESCRIPTION = /^This (API key|client secret) expired\b/;
/** The token endpoint's refusal of a scope the client does not hold (src/platform/oauth/service.ts), not a malformed scope parameter. */
const SCOPE_NOT_HELD = /^This client may not request\b/;

/**
 * The outcome label of a platform API request, from the error it ended with (none: ok). `hint`
 * wins when given: the caller knows more than the error says in one case, an access token that
 * was ours but expired or was revoked (the answer is the same generic invalid_token for both, on
 * purpose), so it passes 'expired' or 'revoked' there.
 *
 * status and id -> outcome:
 * - 429, or id too_many_requests (forward-auth answers throttling with 401) -> throttled
 * - 403 insufficient_scope; 400 invalid_scope for a scope the client does not hold; 400
 *   unauthorized_client (revoking another client's token) -> insufficient_scope
 * - 401 (invalid_client, unauthorized, invalid_token) -> revoked or expired when the description
 *   says so (above), else invalid_credentials (also for no credentials at all)
 * - any other 4xx (invalid_request, unsupported_grant_type, a malformed scope, 405, 413, a body
 *   parser's error) -> bad_request
 * - 5xx and anything that is not an HTTP error -> error
 */
export function platformOutcome(error?: unknown, hint?: PlatformOutcome): PlatformOutcome {
  if (hint) return hint;
  if (error === undefined || error === null) return 'ok';
  const status = statusOf(error);
  if (status === undefined || status >= 500) return 'error';
  const id = error instanceof HttpError ? error.id : '';
  const description = error instanceof Error ? error.message : '';
  if (status === 429 || id === 'too_many_requests') return 'throttled';
  if (id === 'insufficient_scope' || id === 'unauthorized_client' || (id === 'invalid_scope' && SCOPE_NOT_HELD.test(description))) return 'insufficient_scope';
  if (status === 401) {
    if (REVOKED_DESCRIPTION.test(description)) return 'revoked';
    if (EXPIRED_DESCRIPTION.test(description)) return 'expired';
    return 'invalid_credentials';
  }
  if (status >= 400) return 'bad_request';
  return 'error';
}

/** An HttpError's status, or a body parser's (http-errors carry `status`); undefined for anything else. */
function statusOf(error: unknown): number | undefined {
  if (error instanceof HttpError) return error.status;
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}
