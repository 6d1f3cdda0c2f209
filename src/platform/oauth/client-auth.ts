import { HttpError } from '../../http/errors';
import type { CredentialIdentity } from '../../features/credentials/verify';
import { addressRefusedDescription, endedDescription } from '../../features/credentials/verify';
import type { ApiAuthenticator } from '../authenticator';
import { clientCredentials, parseAuthorization } from '../authorization-header';
import { TOKEN_ENDPOINT_CHALLENGE, invalidClient, invalidRequest, tooManyFailures } from '../errors';

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

const MALFORMED_BASIC = {
  'not-base64': 'The Authorization header is malformed: it is not base64.',
  'no-colon': 'The Authorization header is malformed: it has no ":" between client ID and secret.',
} as const;

/**
 * How the client authenticated at the token, introspection or revocation endpoint:
 * client_secret_basic (the Authorization header) or client_secret_post (the body), never both.
 */
export function presentedClient(authorization: string | undefined, form: Record<string, string>): PresentedClient {
  if (authorization !== undefined) return fromBasic(authorization, form);
  const { client_id: clientId, client_secret: clientSecret } = form;
  if (clientId === undefined || clientSecret === undefined) {
    throw invalidClient('Client authentication is required: HTTP Basic, or client_id and client_secret in the body.');
  }
  if (clientId.length > MAX_CREDENTIAL_LENGTH || clientSecret.length > MAX_CREDENTIAL_LENGTH) throw new MalformedClientCredentials();
  return { method: 'client_secret_post', clientId, clientSecret };
}

/** A Basic header is the client's whole authentication: a client_secret in the body as well is refused. */
function fromBasic(authorization: string, form: Record<string, string>): PresentedClient {
  const header = parseAuthorization(authorization);
  if (header.scheme === 'malformed-basic' && header.problem !== 'no-credentials') {
    refuseSecretInBody(form);
    throw new MalformedClientCredentials(MALFORMED_BASIC[header.problem]);
  }
  if (header.scheme !== 'basic') {
    throw invalidClient('Authenticate with HTTP Basic (client_secret_basic) or with client_id and client_secret in the body.');
  }
  refuseSecretInBody(form);
  const client = clientCredentials(header);
  if (client === undefined) {
    throw new MalformedClientCredentials('The Authorization header is malformed: its client ID or secret is not form-urlencoded correctly.');
  }
  if (form.client_id !== undefined && form.client_id !== client.clientId) {
    throw invalidRequest('The client_id in the body differs from the one in the Authorization header.');
  }
  return { method: 'client_secret_basic', ...client };
}

function refuseSecretInBody(form: Record<string, string>): void {
  if (form.client_secret !== undefined) {
    throw invalidRequest('Use one client authentication method: the Authorization header or client_secret in the body, not both.');
  }
}

/**
 * Client authentication for the token, introspection and revocation endpoints, throttled per source
 * address. Only guesses count (a malformed, bad-checksum or unknown secret); a real secret that stopped
 * working is told why (RFC 6749 5.2 error_description) and never counted, so stale clients block no one.
 * A blocked source gets 429 whatever it sent, credentials or not.
 */
export async function authenticateClient(
  authenticator: ApiAuthenticator,
  source: string,
  authorization: string | undefined,
  form: Record<string, string>,
): Promise<CredentialIdentity> {
  let presented: PresentedClient;
  try {
    presented = presentedClient(authorization, form);
  } catch (err) {
    if (err instanceof MalformedClientCredentials) {
      const check = await authenticator.malformed(source);
      if (check.reason === 'throttled') throw tooManyFailures(check.retryAfter);
    } else {
      const wait = await authenticator.failures.retryAfter(source);
      if (wait > 0) throw tooManyFailures(wait);
    }
    throw err;
  }
  const check = await authenticator.checkClientSecret(source, presented.clientId, presented.clientSecret);
  if (check.ok) return check.caller.identity;
  if (check.reason === 'throttled') throw tooManyFailures(check.retryAfter);
  if (check.reason === 'ended') throw invalidClient(endedDescription('oauth', check.how, check.at));
  // RFC 6749 5.2 has no error for "not from here"; invalid_client (the client may not authenticate) is the nearest.
  if (check.reason === 'address') throw invalidClient(addressRefusedDescription(check));
  throw invalidClient();
}
