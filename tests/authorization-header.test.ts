import { MAX_BASIC_LENGTH, MAX_BEARER_LENGTH, clientCredentials, parseAuthorization } from '../src/platform/authorization-header';
import type { AuthorizationCredentials } from '../src/platform/authorization-header';

const b64 = (userPass: string) => Buffer.from(userPass, 'utf8').toString('base64');
/** RFC 6749 2.3.1: application/x-www-form-urlencoded, as a client library encodes its ID and secret. */
const formEncode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);

type Case = [name: string, header: string | undefined, expected: AuthorizationCredentials];

/** A user-pass of exactly MAX_BASIC_LENGTH base64 characters (768 bytes). */
const longestBasic = `u:${'p'.repeat(766)}`;

describe('parseAuthorization: Basic (RFC 7617)', () => {
  it.each<Case>([
    ['a user-id and password', `Basic ${b64('user:pass')}`, { scheme: 'basic', userId: 'user', password: 'pass' }],
    ['a password that holds ":" (only the first ":" splits)', `Basic ${b64('id:a:b')}`, { scheme: 'basic', userId: 'id', password: 'a:b' }],
    [
      '"%" and "+" kept as sent (form-decoding is for client credentials only)',
      `Basic ${b64('a%2B+b:c%d')}`,
      { scheme: 'basic', userId: 'a%2B+b', password: 'c%d' },
    ],
    ['UTF-8 user-pass', `Basic ${b64('zoë:pässwörd')}`, { scheme: 'basic', userId: 'zoë', password: 'pässwörd' }],
    ['an empty user-id (allowed by the grammar; no credential has one)', `Basic ${b64(':secret')}`, { scheme: 'basic', userId: '', password: 'secret' }],
    ['an empty password', `Basic ${b64('user:')}`, { scheme: 'basic', userId: 'user', password: '' }],
    ['both parts empty', `Basic ${b64(':')}`, { scheme: 'basic', userId: '', password: '' }],
    ['the scheme in lower case', `basic ${b64('user:pass')}`, { scheme: 'basic', userId: 'user', password: 'pass' }],
    ['the scheme in upper case', `BASIC ${b64('user:pass')}`, { scheme: 'basic', userId: 'user', password: 'pass' }],
    ['extra spaces around the credentials', `Basic   ${b64('user:pass')}  `, { scheme: 'basic', userId: 'user', password: 'pass' }],
    ['base64 of exactly the longest accepted length', `Basic ${b64(longestBasic)}`, { scheme: 'basic', userId: 'u', password: 'p'.repeat(766) }],
    ['no colon in the user-pass', `Basic ${b64('nocolon')}`, { scheme: 'malformed-basic', problem: 'no-colon' }],
    ['characters outside base64', 'Basic dXNlcjpw*XNz', { scheme: 'malformed-basic', problem: 'not-base64' }],
    ['base64url instead of base64', `Basic ${Buffer.from('us>?:p?ss').toString('base64url')}`, { scheme: 'malformed-basic', problem: 'not-base64' }],
    ['padding in the middle', 'Basic dXNl=cjpwYXNz', { scheme: 'malformed-basic', problem: 'not-base64' }],
    ['more than two padding characters', 'Basic dXNlcjpwYXM===', { scheme: 'malformed-basic', problem: 'not-base64' }],
    ['a space inside the credentials', 'Basic dXNlcjpw YXNz', { scheme: 'malformed-basic', problem: 'not-base64' }],
    ['only spaces after the scheme', 'Basic   ', { scheme: 'malformed-basic', problem: 'not-base64' }],
    ['the bare scheme', 'Basic', { scheme: 'malformed-basic', problem: 'no-credentials' }],
    ['one character over the longest length', `Basic ${'A'.repeat(MAX_BASIC_LENGTH + 1)}`, { scheme: 'malformed-basic', problem: 'not-base64' }],
    ['far oversize', `Basic ${b64(`user:${'x'.repeat(100_000)}`)}`, { scheme: 'malformed-basic', problem: 'not-base64' }],
  ])('%s', (_name, header, expected) => {
    expect(parseAuthorization(header)).toEqual(expected);
  });

  it('the longest accepted credentials are exactly MAX_BASIC_LENGTH base64 characters', () => {
    expect(b64(longestBasic)).toHaveLength(MAX_BASIC_LENGTH);
  });
});

describe('clientCredentials: client_secret_basic form-decoding (RFC 6749 2.3.1)', () => {
  it.each<[name: string, userId: string, password: string, expected: { clientId: string; clientSecret: string } | undefined]>([
    ['plain ID and secret', 'client', 'secret', { clientId: 'client', clientSecret: 'secret' }],
    ['":" "%" and "+" encoded by the client', formEncode('my:client%+id'), formEncode('p:a%s+s w'), { clientId: 'my:client%+id', clientSecret: 'p:a%s+s w' }],
    ['"+" is a space', 'a+b', 'c+d', { clientId: 'a b', clientSecret: 'c d' }],
    ['"%2B" is a plus', 'a%2Bb', '%2B', { clientId: 'a+b', clientSecret: '+' }],
    ['an unencoded ":" in the secret is kept', 'id', 'a:b+c', { clientId: 'id', clientSecret: 'a:b c' }],
    ['percent-encoded UTF-8', formEncode('zoë'), formEncode('ß'), { clientId: 'zoë', clientSecret: 'ß' }],
    ['empty parts', '', '', { clientId: '', clientSecret: '' }],
    ['a "%" not followed by two hex digits in the ID', '%zz', 'secret', undefined],
    ['a truncated escape in the secret', 'client', 'abc%4', undefined],
    ['an escape that is not UTF-8', 'client', '%E0%A4%A', undefined],
  ])('%s', (_name, userId, password, expected) => {
    expect(clientCredentials({ userId, password })).toEqual(expected);
  });

  it("reads what parseAuthorization decoded from a client library's header", () => {
    const header = parseAuthorization(`Basic ${b64(`${formEncode('my:client%+id')}:${formEncode('p:a%s+s w')}`)}`);
    expect(header.scheme).toBe('basic');
    expect(header.scheme === 'basic' && clientCredentials(header)).toEqual({ clientId: 'my:client%+id', clientSecret: 'p:a%s+s w' });
  });
});

describe('parseAuthorization: Bearer (RFC 6750)', () => {
  it.each<Case>([
    ['a JWT', 'Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', { scheme: 'bearer', token: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln' }],
    ['every token68 character', 'Bearer aZ09-._~+/==', { scheme: 'bearer', token: 'aZ09-._~+/==' }],
    ['the scheme in lower case', 'bearer abc', { scheme: 'bearer', token: 'abc' }],
    ['the scheme in mixed case', 'BeArEr abc', { scheme: 'bearer', token: 'abc' }],
    ['extra spaces around the token', 'Bearer    abc   ', { scheme: 'bearer', token: 'abc' }],
    ['exactly the longest accepted token', `Bearer ${'a'.repeat(MAX_BEARER_LENGTH)}`, { scheme: 'bearer', token: 'a'.repeat(MAX_BEARER_LENGTH) }],
    ['one character over the longest token', `Bearer ${'a'.repeat(MAX_BEARER_LENGTH + 1)}`, { scheme: 'malformed-bearer' }],
    ['the bare scheme', 'Bearer', { scheme: 'malformed-bearer' }],
    ['only spaces after the scheme', 'Bearer   ', { scheme: 'malformed-bearer' }],
    ['a space inside the token', 'Bearer abc def', { scheme: 'malformed-bearer' }],
    ['"=" before the end', 'Bearer ab=c', { scheme: 'malformed-bearer' }],
    ['a character outside token68', 'Bearer abc$def', { scheme: 'malformed-bearer' }],
    ['auth-params instead of a token68', 'Bearer token="abc"', { scheme: 'malformed-bearer' }],
    ['a non-ASCII character', 'Bearer abcé', { scheme: 'malformed-bearer' }],
  ])('%s', (_name, header, expected) => {
    expect(parseAuthorization(header)).toEqual(expected);
  });
});

describe('parseAuthorization: no header and other schemes', () => {
  it.each<Case>([
    ['no header', undefined, { scheme: 'none' }],
    ['an empty header', '', { scheme: 'none' }],
    ['Digest', 'Digest username="x", realm="API"', { scheme: 'other' }],
    ['a made-up scheme', 'Token abc', { scheme: 'other' }],
    ['a bare scheme we do not offer', 'Negotiate', { scheme: 'other' }],
    ['a scheme name run into its credentials', `Basic${b64('user:pass')}`, { scheme: 'other' }],
    ['a tab instead of a space after the scheme', `Bearer\tabc`, { scheme: 'other' }],
    ['a space before the scheme', ' Bearer abc', { scheme: 'other' }],
  ])('%s', (_name, header, expected) => {
    expect(parseAuthorization(header)).toEqual(expected);
  });
});

/**
 * Node keeps only the first of repeated Authorization fields; a proxy that merges them (RFC 9110 5.3)
 * sends one comma-joined value. That is never one credential: it is refused as malformed, never
 * split to pick one.
 */
describe('parseAuthorization: duplicated credentials joined into one value', () => {
  it.each<Case>([
    ['two Bearer tokens', 'Bearer abc, Bearer def', { scheme: 'malformed-bearer' }],
    ['two Bearer tokens without a space', 'Bearer abc,def', { scheme: 'malformed-bearer' }],
    ['a Bearer token then Basic', `Bearer abc, Basic ${b64('user:pass')}`, { scheme: 'malformed-bearer' }],
    ['two Basic credentials', `Basic ${b64('user:pass')}, Basic ${b64('other:x')}`, { scheme: 'malformed-basic', problem: 'not-base64' }],
    ['Basic then a Bearer token', `Basic ${b64('user:pass')}, Bearer abc`, { scheme: 'malformed-basic', problem: 'not-base64' }],
  ])('%s', (_name, header, expected) => {
    expect(parseAuthorization(header)).toEqual(expected);
  });
});
