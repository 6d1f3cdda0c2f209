/** What a caller put in the Authorization header of an API request (RFC 7617 Basic, RFC 6750 Bearer). */
export type Presented =
  | { scheme: 'none' }
  | { scheme: 'basic'; username: string; key: string }
  | { scheme: 'bearer'; token: string }
  | { scheme: 'malformed-basic' }
  | { scheme: 'malformed-bearer' };

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

export function parseAuthorization(header: string | undefined): Presented {
  if (header === undefined || header === '') return { scheme: 'none' };
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const value = space < 0 ? '' : header.slice(space + 1).trim();
  if (scheme === 'bearer') {
    return value.length > 0 && value.length <= 8192 && TOKEN68.test(value) ? { scheme: 'bearer', token: value } : { scheme: 'malformed-bearer' };
  }
  if (scheme === 'basic') {
    if (value.length === 0 || value.length > 1024 || !BASE64.test(value)) return { scheme: 'malformed-basic' };
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return { scheme: 'malformed-basic' };
    return { scheme: 'basic', username: decoded.slice(0, colon), key: decoded.slice(colon + 1) };
  }
  return { scheme: 'none' }; // a scheme we do not offer: answered like no credentials, with our challenge
}
