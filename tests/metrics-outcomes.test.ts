import { HttpError } from '../src/http/errors';
import { endedDescription } from '../src/features/credentials/verify';
import {
  invalidClient,
  invalidRequest,
  invalidScope,
  payloadTooLarge,
  tooManyFailures,
  unauthorizedClient,
  unsupportedGrantType,
} from '../src/platform/errors';
import { platformOutcome } from '../src/metrics/outcomes';

const AT = Date.UTC(2026, 10, 1, 9, 0);

/** The platform API's refusals as src/platform builds them (verify/handlers.ts's are private: rebuilt here with the same status, id and text). */
const cases: [string, unknown, string][] = [
  ['no error', undefined, 'ok'],
  ['invalid_client, generic', invalidClient(), 'invalid_credentials'],
  ['invalid_client, client secret revoked', invalidClient(endedDescription('oauth', 'revoked', AT)), 'revoked'],
  ['invalid_client, client secret replaced', invalidClient(endedDescription('oauth', 'replaced', AT)), 'revoked'],
  ['invalid_client, client secret expired before it was saved', invalidClient(endedDescription('oauth', 'expired', AT)), 'expired'],
  ['invalid_client, client secret not saved yet', invalidClient(endedDescription('oauth', 'unsaved', null)), 'invalid_credentials'],
  ['unauthorized, no credentials', new HttpError(401, 'unauthorized', 'Authentication is required: send Authorization: Basic ...'), 'invalid_credentials'],
  ['unauthorized, bad API key', new HttpError(401, 'unauthorized', 'The API username or key is not valid.'), 'invalid_credentials'],
  ['unauthorized, API key revoked', new HttpError(401, 'unauthorized', endedDescription('basic', 'revoked', AT)), 'revoked'],
  ['unauthorized, API key replaced', new HttpError(401, 'unauthorized', endedDescription('basic', 'replaced', null)), 'revoked'],
  ['unauthorized, API key expired', new HttpError(401, 'unauthorized', endedDescription('basic', 'expired', AT)), 'expired'],
  [
    'invalid_token (says "invalid, expired or revoked": none of them for sure)',
    new HttpError(401, 'invalid_token', 'The access token is invalid, expired or revoked.'),
    'invalid_credentials',
  ],
  ['429 too_many_requests', tooManyFailures(30), 'throttled'],
  [
    'forward-auth throttling: 401 too_many_requests',
    new HttpError(401, 'too_many_requests', 'Too many failed authentication attempts. Try again in 5 seconds.'),
    'throttled',
  ],
  ['403 insufficient_scope', new HttpError(403, 'insufficient_scope', 'This request needs the scope claims:write.'), 'insufficient_scope'],
  ['invalid_scope: a scope the client does not hold', invalidScope('This client may not request: claims:write. It holds: claims:read.'), 'insufficient_scope'],
  [
    "unauthorized_client: revoking another client's token",
    unauthorizedClient('This token was issued to another client; a client may revoke only its own tokens.'),
    'insufficient_scope',
  ],
  ['invalid_scope: a malformed scope parameter', invalidScope('scope: must be space-separated scope names'), 'bad_request'],
  ['invalid_request', invalidRequest('grant_type is required'), 'bad_request'],
  ['unsupported_grant_type', unsupportedGrantType('password'), 'bad_request'],
  ['413', payloadTooLarge(32768), 'bad_request'],
  ['405', new HttpError(405, 'invalid_request', 'GET is not allowed here; use POST.'), 'bad_request'],
  [
    "a body parser's error (http-errors: status, no id)",
    Object.assign(new Error('Unexpected token'), { status: 400, type: 'entity.parse.failed' }),
    'bad_request',
  ],
  ['a 500', new HttpError(500, 'internal_error', 'Something went wrong'), 'error'],
  ['an exception that is not an HTTP error', new Error('database is locked'), 'error'],
  ['something thrown that is not an Error', 'a string', 'error'],
];

describe('platformOutcome(error, hint?): the outcome label of a platform API request', () => {
  it.each(cases)('%s', (_label, error, outcome) => {
    expect(platformOutcome(error)).toBe(outcome);
  });

  it("takes the caller's hint over the error: an access token known to be expired or revoked", () => {
    const badToken = new HttpError(401, 'invalid_token', 'The access token is invalid, expired or revoked.');
    expect(platformOutcome(badToken, 'expired')).toBe('expired');
    expect(platformOutcome(badToken, 'revoked')).toBe('revoked');
  });
});
