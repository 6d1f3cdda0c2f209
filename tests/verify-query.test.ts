import querystring from 'node:querystring';
import { HttpError } from '../src/http/errors';
import { parseOrThrow } from '../src/http/validate';
import { VerifyQuerySchema, requiredScopes } from '../src/platform/verify/schema';

/** What /auth/verify's query meant before its usual shapes were read without zod: the schema over querystring.parse. */
function throughZod(query: string): string[] | string {
  try {
    return parseOrThrow(VerifyQuerySchema, querystring.parse(query)).scope;
  } catch (err) {
    if (err instanceof HttpError) return `${err.status} ${err.message}`;
    throw err;
  }
}

function ours(query: string): string[] | string {
  try {
    return requiredScopes(query);
  } catch (err) {
    if (err instanceof HttpError) return `${err.status} ${err.message}`;
    throw err;
  }
}

const queries = [
  '',
  'scope=claims%3Aread',
  'scope=claims:read',
  'scope=claims%3Aread+documents%3Aread',
  'scope=claims%3Aread%20documents%3Aread',
  'scope=',
  'scope=+',
  'scope=++claims%3Aread++',
  'scope=a%26b',
  'scope=%E2%82%AC',
  'scope=%',
  'scope=%zz',
  'scope=%22bad%22',
  `scope=${'a'.repeat(201)}`,
  `scope=${'a'.repeat(200)}`,
  'scope=a&scope=b',
  'scope=a&other=1',
  'other=1',
  'scope',
  'SCOPE=a',
  'scope=a&scope=%22',
  `${Array.from({ length: 21 }, () => 'scope=a').join('&')}`,
];

describe('GET /auth/verify reads its ?scope= as the zod schema over querystring.parse does', () => {
  const named = queries.map((query) => [query.length > 50 ? `${query.slice(0, 40)}... (${query.length} characters)` : query, query]);
  it.each(named)('query %j: the same scopes, or the same 400', (_name, query) => {
    expect(ours(query)).toEqual(throughZod(query));
  });

  it('reads the usual query to the names it lists', () => {
    expect(requiredScopes('scope=claims%3Aread+documents%3Aread')).toEqual(['claims:read', 'documents:read']);
  });

  it('refuses a malformed scope name with a 400 that names it', () => {
    expect(ours('scope=%22bad%22')).toBe('400 scope: "\\"bad\\"" is not a valid scope name.');
  });
});
