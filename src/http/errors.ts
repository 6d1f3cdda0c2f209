/** Typed HTTP errors with stable ids; thrown anywhere below a route, rendered once by the error handler. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly id: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message = 'The request could not be understood.', id = 'bad_request') => new HttpError(400, id, message);
export const unauthorized = (message = 'Please sign in to continue.', headers: Record<string, string> = {}) =>
  new HttpError(401, 'unauthorized', message, headers);
export const forbidden = (message = 'You do not have access to this page.', id = 'forbidden') => new HttpError(403, id, message);
export const notFound = (message = 'We could not find that page.') => new HttpError(404, 'not_found', message);
export const conflict = (message: string, id = 'conflict') => new HttpError(409, id, message);
export const tooManyRequests = (retryAfterSeconds: number, message = 'Too many attempts. Please wait and try again.') =>
  new HttpError(429, 'too_many_requests', message, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) });

/** A validation failure a service found (a duplicate name, say): routes re-render the form with it by the field. */
export class FieldError extends HttpError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(422, 'invalid_field', message);
  }
}
