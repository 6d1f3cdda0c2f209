import { HttpError } from '../../http/errors';
import { TOKEN_ENDPOINT_CHALLENGE, invalidClient, invalidRequest } from './errors';

export interface PresentedClient {
  method: 'client_secret_basic' | 'client_secret_post';
  clientId: string;
  clientSecret: string;
}

const MAX_CREDENTIAL_LENGTH = 256;

/**
 * invalid_client for client credentials that were sent but cannot be ours (not base64, no ":",
 * broken encoding, too long): like a bad checksum, a failed attempt that counts against its source.
 */
export class MalformedClientCredentials extends HttpError {
  constructor(description = 'Client authentication failed.') {
    super(401, 'invalid_client', description, { 'WWW-Authenticate': TOKEN_ENDPOINT_CHALLENGE });
  }
}

/** RFC 6749 2.3.1: the Client ID and secret are form-urlencoded, then joined by ':' and base64-encoded. */
function formDecode(part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '));
  } catch {
    throw new MalformedClientCredentials('The Authorization header is malformed: its client ID or secret is not form-urlencoded correctly.');
  }
}

/**
 * How the client authenticated at the token, introspection or revocation endpoint:
 * client_secret_basic (the Authorization header) or client_secret_post (the body), never both.
 */
export function presentedClient(authorization: string | undefined, form: Record<string, string>): PresentedClient {
  if (authorization !== undefined) {
    const space = authorization.indexOf(' ');
    if (space < 0 || authorization.slice(0, space).toLowerCase() !== 'basic') {
      throw invalidClient('Authenticate with HTTP Basic (client_secret_basic) or with client_id and client_secret in the body.');
    }
    if (form.client_secret !== undefined) {
      throw invalidRequest('Use one client authentication method: the Authorization header or client_secret in the body, not both.');
    }
    const encoded = authorization.slice(space + 1).trim();
    if (encoded.length > 4 * MAX_CREDENTIAL_LENGTH || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
      throw new MalformedClientCredentials('The Authorization header is malformed: it is not base64.');
    }
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new MalformedClientCredentials('The Authorization header is malformed: it has no ":" between client ID and secret.');
    const clientId = formDecode(decoded.slice(0, colon));
    const clientSecret = formDecode(decoded.slice(colon + 1));
    if (form.client_id !== undefined && form.client_id !== clientId) {
      throw invalidRequest('The client_id in the body differs from the one in the Authorization header.');
    }
    return { method: 'client_secret_basic', clientId, clientSecret };
  }
  const { client_id: clientId, client_secret: clientSecret } = form;
  if (clientId === undefined || clientSecret === undefined) {
    throw invalidClient('Client authentication is required: HTTP Basic, or client_id and client_secret in the body.');
  }
  if (clientId.length > MAX_CREDENTIAL_LENGTH || clientSecret.length > MAX_CREDENTIAL_LENGTH) throw new MalformedClientCredentials();
  return { method: 'client_secret_post', clientId, clientSecret };
}
