/** The leak report endpoint's part of the OpenAPI document (src/platform/leaks/, decision 0020). */
import type { JsonSchema } from './openapi-components';
import { NO_STORE, RETRY_AFTER, errorResponse, jsonBody } from './openapi-components';

// The limits as the platform enforces them (src/platform/leaks/schema.ts); the document states the same numbers.
const MAX_STRINGS = 100;
const MAX_STRING_LENGTH = 512;
const BODY_LIMIT_KIB = 64;

const LEAK_REPORT: JsonSchema = {
  type: 'object',
  required: ['credentials'],
  properties: {
    credentials: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_STRINGS,
      items: { type: 'string', minLength: 1, maxLength: MAX_STRING_LENGTH },
      description: 'The strings that were found: API keys (`cxk_…`) or client secrets, as found. Anything else is ignored the same way.',
    },
    url: {
      type: 'string',
      pattern: '^[Hh][Tt][Tt][Pp][Ss]?://',
      maxLength: 2048,
      description: 'Optional: where they were found (an http or https URL). It is passed on to the owners.',
    },
  },
};

const ACCEPTED: JsonSchema = { type: 'object', required: ['message'], properties: { message: { type: 'string' } } };

/** POST /api/v1/credentials/leaked, for a base URL. */
export function leakReportPath(base: string) {
  const headers = { 'Cache-Control': NO_STORE };
  return {
    '/api/v1/credentials/leaked': {
      post: {
        operationId: 'reportLeakedCredentials',
        tags: ['Leak reports'],
        summary: 'Report leaked credentials',
        description:
          'Found one of our API keys or client secrets where it should not be (a public repository, a paste, a log)? Send it here; no authentication is needed. ' +
          'The shape is that of GitHub’s credential revocation API (`{"credentials": [...]}`), with the optional `url` where they were found. ' +
          'Each string that is a credential of this console is revoked at once or reported to its company’s administrators, as the company’s policy says; they are told where it was found. ' +
          `The answer is the same whatever the strings are, so it never says which were ours. At most ${MAX_STRINGS} strings and ${BODY_LIMIT_KIB} KiB per report, and 10 reports a minute from one address.`,
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: LEAK_REPORT, example: { credentials: ['cxk_…'], url: 'https://example.com/a-public-repository/commit/1' } },
          },
        },
        responses: {
          '202': {
            description: 'The report was received and handled. The same answer for every report that could be read.',
            headers,
            content: jsonBody(ACCEPTED),
          },
          '400': errorResponse(
            'The body is not a leak report: not JSON, no `credentials`, more than 100 strings, an empty or overlong string, or a `url` that is not an http(s) URL.',
            ['invalid_request', 'malformed_body'],
            'Send at least one string in "credentials".',
            headers,
          ),
          '413': errorResponse(
            `The body is larger than ${BODY_LIMIT_KIB} KiB.`,
            ['payload_too_large'],
            'What you sent is too large (the limit is 64 kB).',
            headers,
          ),
          '415': errorResponse(
            'The body is not `application/json`.',
            ['unsupported_media_type'],
            'Send the report as JSON, with Content-Type: application/json.',
            headers,
          ),
          '429': errorResponse(
            'More than 10 reports a minute from this address; wait and send again.',
            ['too_many_requests'],
            'Too many leak reports from this address. Try again in 42 seconds.',
            {
              'Retry-After': RETRY_AFTER,
              ...headers,
            },
          ),
        },
        'x-codeSamples': [
          {
            lang: 'shell',
            label: 'curl',
            source: `curl ${base}/api/v1/credentials/leaked \\\n  -H "Content-Type: application/json" \\\n  -d '{"credentials": ["cxk_..."], "url": "https://example.com/where-it-was"}'`,
          },
        ],
      },
    },
  };
}
