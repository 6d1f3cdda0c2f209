import { HttpError } from '../http/errors';

/**
 * OAuth 2.0 error responses (RFC 6749 section 5.2): the error handler renders them as
 * {"error": code, "error_description": text} with the status and headers given here.
 */
export const TOKEN_ENDPOINT_CHALLENGE = 'Basic realm="oauth", charset="UTF-8"';

export const invalidRequest = (description: string) => new HttpError(400, 'invalid_request', description);

/** Client authentication failed: always 401 with a Basic challenge (RFC 6749 5.2 and RFC 7235 3.1). */
export const invalidClient = (description = 'Client authentication failed.') =>
  new HttpError(401, 'invalid_client', description, { 'WWW-Authenticate': TOKEN_ENDPOINT_CHALLENGE });

export const invalidScope = (description: string) => new HttpError(400, 'invalid_scope', description);

export const unsupportedGrantType = (grantType: string) =>
  new HttpError(400, 'unsupported_grant_type', `The grant type ${JSON.stringify(grantType.slice(0, 40))} is not supported; use client_credentials.`);

export const unauthorizedClient = (description: string) => new HttpError(400, 'unauthorized_client', description);

export const payloadTooLarge = (limit: number) => new HttpError(413, 'invalid_request', `The request body is larger than ${limit} bytes.`);

/** Too many failed attempts from this source or for this identifier: generic, with Retry-After. */
export const tooManyFailures = (retryAfterSeconds: number, headers: Record<string, string> = {}) =>
  new HttpError(429, 'too_many_requests', `Too many failed authentication attempts. Try again in ${retryAfterSeconds} seconds.`, {
    'Retry-After': String(retryAfterSeconds),
    ...headers,
  });
