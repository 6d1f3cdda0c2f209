/**
 * What a caller put in the Authorization header (RFC 7235 `credentials = auth-scheme [ 1*SP token68 ]`):
 * Basic (RFC 7617) for API keys and for client_secret_basic, Bearer (RFC 6750) for access tokens.
 * Schemes are case-insensitive. The one parser of that header on the platform API; it only says
 * what was sent: what a malformed credential costs (a counted guess or not) is each endpoint's call.
 */
export type AuthorizationCredentials =
  /** No header, or an empty one. */
  | { scheme: 'none' }
  /** A scheme we do not offer: answered like no credentials, with our challenge. */
  | { scheme: 'other' }
  /** RFC 7617 user-pass, decoded from base64 as UTF-8; the user-id may be empty, the password may hold ':'. */
  | { scheme: 'basic'; userId: string; password: string }
  | { scheme: 'bearer'; token: string }
  /** no-credentials: the bare word "Basic"; not-base64: anything after it that is not (or too long); no-colon: no user-pass. */
  | { scheme: 'malformed-basic'; problem: 'no-credentials' | 'not-base64' | 'no-colon' }
  | { scheme: 'malformed-bearer' };

/** base64 of a user-id and a password of at most 256 characters each, with room to spare. */
export const MAX_BASIC_LENGTH = 1024;
export const MAX_BEARER_LENGTH = 8192;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** RFC 6750 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

export function parseAuthorization(header: string | undefined): AuthorizationCredentials {
  if (header === undefined || header === '') return { scheme: 'none' };
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const value = space < 0 ? '' : header.slice(space + 1).trim();
  if (scheme === 'bearer') {
    return value.length > 0 && value.length <= MAX_BEARER_LENGTH && TOKEN68.test(value) ? { scheme: 'bearer', token: value } : { scheme: 'malformed-bearer' };
  }
  if (scheme === 'basic') return space < 0 ? { scheme: 'malformed-basic', problem: 'no-credentials' } : parseBasic(value);
  return { scheme: 'other' };
}

function parseBasic(value: string): AuthorizationCredentials {
  if (value.length > MAX_BASIC_LENGTH || !BASE64.test(value)) return { scheme: 'malformed-basic', problem: 'not-base64' };
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { scheme: 'malformed-basic', problem: 'no-colon' };
  return { scheme: 'basic', userId: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * RFC 6749 2.3.1: for client_secret_basic, the Client ID and secret are form-urlencoded before Basic
 * joins them with ':' (so either may hold ':', '%' or a space sent as '+'). Undefined when either part
 * is not form-urlencoded correctly. API usernames and keys (plain Basic) are taken as they are.
 */
export function clientCredentials(basic: { userId: string; password: string }): { clientId: string; clientSecret: string } | undefined {
  const clientId = formDecode(basic.userId);
  const clientSecret = formDecode(basic.password);
  return clientId === undefined || clientSecret === undefined ? undefined : { clientId, clientSecret };
}

function formDecode(part: string): string | undefined {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}
