/**
 * The hostile-input corpus: values for every field, and values for the Authorization header of the
 * platform API. tests/hostile-input.test.ts feeds them to every form and endpoint; tests/metrics.test.ts
 * to sign-in and the platform API, to show that no label value of the metrics comes from them.
 */

/** A hostile value: text (percent-encoded in forms and URLs), or raw bytes put on the wire as they are. */
export interface Hostile {
  label: string;
  text?: string;
  raw?: Buffer;
  /** Bodies only (a URL or header this long is refused by the HTTP parser, tested separately). */
  bodyOnly?: boolean;
}

export const MB = 1024 * 1024;
export const CORPUS: Hostile[] = [
  { label: 'empty', text: '' },
  { label: 'whitespace', text: '  \t  ' },
  { label: 'line breaks', text: '\r\n\r\n' },
  { label: '1 MB', text: 'a'.repeat(MB), bodyOnly: true },
  { label: '10 KB', text: 'b'.repeat(10 * 1024), bodyOnly: true },
  { label: '300 characters', text: 'c'.repeat(300) },
  { label: 'NUL', text: 'admin\u0000@example.test' },
  { label: 'control characters', text: '\u0001\u0002\u001b[31mred\u007f' },
  { label: 'invalid UTF-8 (raw bytes)', raw: Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1]) },
  { label: 'overlong UTF-8 slash (raw bytes)', raw: Buffer.from([0xc0, 0xaf, 0x65, 0x74, 0x63]) },
  { label: 'invalid UTF-8 (percent-encoded)', raw: Buffer.from('%FF%FE%C3%28') },
  { label: 'lone surrogate (percent-encoded)', raw: Buffer.from('%ED%A0%80') },
  { label: 'emoji', text: '🔑🚀👩‍💻' },
  { label: 'RTL override', text: '\u202Etxt.exe\u202C' },
  { label: 'Arabic and Hebrew', text: 'مرحبا שלום' },
  { label: 'zero-width space', text: 'ad\u200Bmin' },
  { label: 'homoglyph address', text: 'аdmin@a.test' },
  { label: 'script tag', text: '<script>alert(1)</script>' },
  { label: 'attribute breakout', text: '"><img src=x onerror=alert(1)>' },
  { label: 'single-quote breakout', text: "'><svg onload=alert(1)>" },
  { label: 'htmx attributes', text: '<div hx-post="/sign-out" hx-trigger="load">x</div>' },
  { label: 'template syntax', text: '{{ 7*7 }}{% for x in y %}${7*7}' },
  { label: 'SQL tautology', text: "' OR '1'='1' --" },
  { label: 'SQL stacked query', text: '1; DROP TABLE users; --' },
  { label: 'SQL union', text: "x' UNION SELECT secret_hash FROM credentials --" },
  { label: 'path traversal', text: '../../../../etc/passwd' },
  { label: 'encoded path traversal', text: '..%2F..%2F..%2Fetc%2Fpasswd' },
  { label: 'backslash traversal', text: '..\\..\\windows\\win.ini' },
  { label: 'base64 garbage', text: '!!!===@@@%%%' },
  { label: 'base64 padding only', text: '====' },
  { label: 'huge number', text: '9'.repeat(400) },
  { label: 'negative number', text: '-1' },
  { label: 'float and exponent', text: '1e309' },
  { label: 'NaN', text: 'NaN' },
  { label: 'prototype key', text: '__proto__' },
  { label: 'CRLF header injection', text: 'x\r\nSet-Cookie: injected=1' },
  { label: 'javascript URL', text: 'javascript:alert(1)' },
  { label: 'protocol-relative URL', text: '//evil.example/path' },
];

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
export const AUTH_CORPUS: { label: string; values: (string | Buffer)[] }[] = [
  { label: 'empty', values: [''] },
  { label: 'scheme only', values: ['Basic'] },
  { label: 'scheme and spaces', values: ['Basic    '] },
  { label: 'base64 garbage', values: ['Basic !!!@@@###'] },
  { label: 'base64 of no colon', values: [`Basic ${b64('justausername')}`] },
  { label: 'empty username and key', values: [`Basic ${b64(':')}`] },
  { label: 'NUL in credentials', values: [`Basic ${b64('company-a-api\u0000:key\u0000')}`] },
  { label: 'invalid UTF-8 once decoded', values: [`Basic ${b64(Buffer.from([0xff, 0x3a, 0xfe, 0xc3]))}`] },
  { label: 'SQL in the username', values: [`Basic ${b64("' OR 1=1 --:x")}`] },
  { label: 'markup in the username', values: [`Basic ${b64('<script>alert(1)</script>:x')}`] },
  { label: 'key of the right shape, wrong value', values: [`Basic ${b64('company-a-api:cxk_000000000000000000000000000000AAAAAA')}`] },
  { label: 'client secret used as an API key', values: ['CLIENT_SECRET_AS_KEY'] },
  { label: 'long (6 KB)', values: [`Basic ${b64(`u:${'k'.repeat(4500)}`)}`] },
  { label: 'lowercase scheme', values: [`basic ${b64('company-a-api:x')}`] },
  { label: 'unknown scheme', values: ['Digest username="admin", response="x"'] },
  { label: 'two schemes in one header', values: [`Basic ${b64('a:b')}, Bearer abc`] },
  { label: 'duplicate Authorization headers', values: [`Basic ${b64('a:b')}`, 'Bearer abc'] },
  { label: 'bearer empty', values: ['Bearer '] },
  { label: 'bearer garbage', values: ['Bearer !!!<>"'] },
  {
    label: 'bearer alg none JWT',
    values: [`Bearer ${b64('{"alg":"none","typ":"at+jwt"}').replace(/=/g, '')}.${b64('{"sub":"x","scope":"claims:read"}').replace(/=/g, '')}.`],
  },
  { label: 'bearer JWT with a forged signature', values: [`Bearer eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6IngifQ.eyJzdWIiOiJ4In0.${'A'.repeat(86)}`] },
  { label: 'bearer 9 KB', values: [`Bearer ${'a'.repeat(9000)}`] },
  { label: 'raw non-ASCII bytes', values: [Buffer.concat([Buffer.from('Basic '), Buffer.from([0xff, 0xfe, 0xe2, 0x80, 0xae])])] },
  { label: 'control characters', values: [Buffer.from('Basic \u0001\u0002\u0003')] },
];
