import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { AuditLog } from '../src/features/audit/service';
import { deriveSealingKey, seal } from '../src/crypto';
import { SEALING_PURPOSE } from '../src/features/second-factors/service';
import { runCredentialHousekeeping } from '../src/features/credentials/service';
import type { Db } from '../src/db/open';
import { PASSWORD, TEST_ENGINE, createTestContext, csrfFrom, issueInvitationSync } from './helpers';
import type { TestContext } from './helpers';
import { seedWorldSync } from './world';
import { AUTH_CORPUS, CORPUS, MB } from './support/hostile-corpus';
import type { Hostile } from './support/hostile-corpus';
import type { World as SeededWorld } from './world';

/**
 * Hostile input: every form field, query parameter, path parameter and API parameter, and the
 * Authorization header of the platform API, each fed a corpus of hostile values, plus hostile
 * bodies (wrong content types, JSON for forms and forms for JSON, duplicates, oversize).
 *
 * Requests are written byte by byte on a socket (so invalid UTF-8, NUL and control characters reach
 * the server as sent). Each case runs inside a transaction that is rolled back, so cases never see
 * each other's effects. For every case: never a 5xx; a refusal is a 4xx with a message (an HTML
 * message or an RFC-shaped JSON error) and leaves the database exactly as it was; markup is never
 * reflected unescaped; a header is never injected. Where a hostile-looking value is valid for the
 * field (a password, a revoke reason, a company name), it may be accepted: then it must be stored
 * and shown escaped (the page it leads to is checked too).
 */

// ------------------------------------------------------------------------------------------------
// A raw HTTP/1.1 client.

interface Raw {
  status: number;
  headers: Record<string, string[]>;
  body: string;
  /** The server closed the connection without any answer. */
  noAnswer?: string;
}

const header = (res: Raw, name: string): string => (res.headers[name.toLowerCase()] ?? []).join(', ');

function parseResponse(data: Buffer): Raw | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string[]> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    (headers[name] ??= []).push(line.slice(colon + 1).trim());
  }
  let body = data.subarray(end + 4);
  if ((headers['transfer-encoding'] ?? []).join().includes('chunked')) {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = body.indexOf('\r\n', at);
      if (lineEnd < 0) break;
      const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
      if (!size) break;
      parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: body.toString('utf8') };
}

type HeaderList = [string, string | Buffer][];

function rawRequest(port: number, method: string, target: string | Buffer, headers: HeaderList, body?: Buffer): Promise<Raw> {
  const head = [
    Buffer.from(`${method} `),
    Buffer.isBuffer(target) ? target : Buffer.from(target, 'latin1'),
    Buffer.from(` HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n`),
  ];
  for (const [name, value] of headers) head.push(Buffer.from(`${name}: `), Buffer.isBuffer(value) ? value : Buffer.from(value, 'latin1'), Buffer.from('\r\n'));
  if (body !== undefined && !headers.some(([n]) => n.toLowerCase() === 'content-length')) head.push(Buffer.from(`Content-Length: ${body.length}\r\n`));
  head.push(Buffer.from('\r\n'));
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (why?: string) => {
      if (settled) return;
      settled = true;
      const parsed = parseResponse(Buffer.concat(chunks));
      resolve(parsed ?? { status: 0, headers: {}, body: '', noAnswer: why ?? 'closed' });
    };
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', (err: NodeJS.ErrnoException) => finish(err.code));
    // No half-close: Node's server drops a request whose client ends its side first. It closes after answering.
    socket.setTimeout(10_000, () => socket.destroy());
    socket.write(body === undefined ? Buffer.concat(head) : Buffer.concat([...head, body]));
  });
}

// ------------------------------------------------------------------------------------------------
// The corpus.

/** What a payload would look like reflected unescaped (only those that matter in HTML). */
const DANGEROUS = /[<>"']/;

function encodeValue(v: Hostile): Buffer {
  return v.raw ?? Buffer.from(encodeURIComponent(v.text!));
}

function formBody(fields: [string, string | Hostile][]): Buffer {
  const parts: Buffer[] = [];
  fields.forEach(([name, value], i) => {
    if (i) parts.push(Buffer.from('&'));
    parts.push(Buffer.from(`${encodeURIComponent(name)}=`));
    parts.push(typeof value === 'string' ? Buffer.from(encodeURIComponent(value)) : encodeValue(value));
  });
  return Buffer.concat(parts);
}

/** The fields as a JSON object, byte by byte (a raw value's bytes stay raw inside its string); `arrays`: fields sent as a one-item array. */
function jsonBody(fields: [string, string | Hostile][], arrays: string[] = []): Buffer {
  const parts: Buffer[] = [Buffer.from('{')];
  fields.forEach(([name, value], i) => {
    if (i) parts.push(Buffer.from(','));
    const text =
      typeof value === 'string'
        ? Buffer.from(JSON.stringify(value))
        : value.raw
          ? Buffer.concat([Buffer.from('"'), value.raw, Buffer.from('"')])
          : Buffer.from(JSON.stringify(value.text));
    parts.push(Buffer.from(`${JSON.stringify(name)}:`), ...(arrays.includes(name) ? [Buffer.from('['), text, Buffer.from(']')] : [text]));
  });
  parts.push(Buffer.from('}'));
  return Buffer.concat(parts);
}

function queryString(fields: [string, string | Hostile][]): Buffer {
  return fields.length ? Buffer.concat([Buffer.from('?'), formBody(fields)]) : Buffer.alloc(0);
}

// ------------------------------------------------------------------------------------------------
// The world, and the callers.

interface World extends SeededWorld {
  ids: SeededWorld['ids'] & { pendingTotp: number; passkey: number };
  ctx: TestContext;
  port: number;
  server: http.Server;
}

async function listen(ctx: TestContext): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer(ctx.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

interface Session {
  cookie: string;
  csrf: string;
}

// Anonymous pages set the sign-in form's console.csrf cookie (no session); sign-in sets console.sid.
const setCookie = (res: Raw) => (res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).find((c) => /^console\.(sid|csrf)=/.test(c));

async function anonymousSession(port: number): Promise<Session> {
  const page = await rawRequest(port, 'GET', '/sign-in', []);
  return { cookie: setCookie(page)!, csrf: csrfFrom(page.body) };
}

async function signedInSession(port: number, email: string): Promise<Session> {
  const anon = await anonymousSession(port);
  const res = await rawRequest(
    port,
    'POST',
    '/sign-in',
    [
      ['Cookie', anon.cookie],
      ['Content-Type', 'application/x-www-form-urlencoded'],
    ],
    formBody([
      ['_csrf', anon.csrf],
      ['email', email],
      ['password', PASSWORD],
    ]),
  );
  if (res.status !== 303) throw new Error(`sign-in failed: ${res.status}`);
  const cookie = setCookie(res)!;
  const page = await rawRequest(port, 'GET', '/audit', [['Cookie', cookie]]);
  return { cookie, csrf: csrfFrom(page.body) };
}

// ------------------------------------------------------------------------------------------------
// What must not change: every table but the sessions (each request may touch its own), with
// last-used times left out (recorded on any verification), failed attempts' audit entries (auditing those is the point)
// and the throttles' windows (counting a refused guess is the point too).

function digest(db: Db): string {
  const hash = crypto.createHash('sha256');
  const tables = db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('sessions', 'schema_migrations', 'throttle_windows') AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .pluck()
    .all() as string[];
  for (const table of tables) {
    const rows = db.prepare(`SELECT * FROM "${table}" ORDER BY rowid`).all() as Record<string, unknown>[];
    for (const row of rows) {
      if (table === 'audit_log' && /fail|throttl/.test(String(row.action))) continue;
      delete row.last_used_at;
      hash.update(`${table}:${JSON.stringify(row)}\n`);
    }
  }
  return hash.digest('hex');
}

// ------------------------------------------------------------------------------------------------
// The targets: every form, query, path parameter and API parameter.

/** stale: administrator A, signed in more than 10 minutes ago, so sensitive actions ask for the password (sudo mode). */
type Caller = 'anonymous' | 'admin' | 'operator' | 'api' | 'stale';

interface Target {
  name: string;
  method: 'GET' | 'POST';
  path: (ids: Record<string, number>) => string;
  caller: Caller;
  /** Valid values for every field; each case replaces one of them with a hostile value. */
  base: (w: World) => [string, string][];
  /** The fields to attack (default: every field of base). */
  fields?: string[];
  /** Path parameters to attack, by name in the path (":id"). */
  pathParams?: string[];
  /** json: a JSON API (no session, no CSRF), its fields sent as one JSON object. */
  in: 'form' | 'query' | 'oauth' | 'json';
  /** For `in: 'json'`: the fields the API takes as an array of strings (each case sends one value in it). */
  jsonArrays?: string[];
  /** Fields where a hostile-looking value can be valid: the request may succeed (and then must be shown escaped). */
  freeText?: string[];
  /** How the API authenticates when the case is not about that (a valid Basic header). */
  authorization?: (w: World) => string;
  /** A case that succeeds must also pass this (e.g. introspection of garbage says inactive). */
  onSuccess?: (res: Raw) => string | undefined;
  /** Whether a success may change the database (false: the endpoint never writes on these inputs). */
  successWrites?: boolean;
  /** Prepared inside the case's transaction (e.g. a fresh one-time token); its values are added to base. */
  prepare?: (w: World) => [string, string][];
  /** Every field is optional: a JSON object without them is a valid submission (a Save with the default overlap). */
  allOptional?: boolean;
  /** Corpus values (by label) that are simply valid for a field, e.g. "__proto__" is a well-formed username. */
  validValues?: Record<string, string[]>;
  /** Any JSON object is a valid submission (the Back step only shows again what it was given). */
  acceptsAnyObject?: boolean;
}

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
const clientAuth = (w: World) => basic(w.secrets.clientId, w.secrets.clientSecret);
const apiKeyAuth = (w: World) => basic('company-a-api', w.secrets.apiKey);
const newInvitation = (w: World): [string, string][] => [['token', issueInvitationSync(w.ctx.db, w.ctx.clock, w.ids.victim, null).token]];
const localRedirect = (res: Raw) => {
  const location = header(res, 'location');
  return res.status === 303 && (!location.startsWith('/') || location.startsWith('//') || location.startsWith('/\\'))
    ? `redirects off-site to ${location}`
    : undefined;
};
const inactive = (res: Raw) =>
  res.status === 200 && (JSON.parse(res.body) as { active?: unknown }).active !== false
    ? 'introspection of a hostile token is not {"active":false}'
    : undefined;

const TARGETS: Target[] = [
  // --- signing in, first start, invitations (anonymous) ---
  {
    name: 'POST /sign-in',
    method: 'POST',
    path: () => '/sign-in',
    caller: 'anonymous',
    in: 'form',
    base: () => [
      ['email', 'admin@a.test'],
      ['password', 'not the password'],
      ['next', '/admin/api'],
    ],
    freeText: ['next'],
    onSuccess: localRedirect,
    successWrites: true,
  },
  {
    name: 'POST /sign-in (next, right password)',
    method: 'POST',
    path: () => '/sign-in',
    caller: 'anonymous',
    in: 'form',
    base: () => [
      ['email', 'admin@a.test'],
      ['password', PASSWORD],
      ['next', '/audit'],
    ],
    fields: ['next'],
    freeText: ['next'],
    onSuccess: localRedirect,
    successWrites: true,
  },
  { name: 'GET /sign-in', method: 'GET', path: () => '/sign-in', caller: 'anonymous', in: 'query', base: () => [['next', '/audit']], freeText: ['next'] },
  { name: 'GET /setup', method: 'GET', path: () => '/setup', caller: 'anonymous', in: 'query', base: () => [['token', 'x']] },
  {
    name: 'POST /setup',
    method: 'POST',
    path: () => '/setup',
    caller: 'anonymous',
    in: 'form',
    base: () => [
      ['token', 'x'],
      ['companyName', 'Acme'],
      ['email', 'first@example.test'],
      ['password', 'long enough password'],
      ['confirm', 'long enough password'],
    ],
  },
  { name: 'GET /invitation', method: 'GET', path: () => '/invitation', caller: 'anonymous', in: 'query', base: () => [['token', 'x']] },
  {
    name: 'POST /invitation (token)',
    method: 'POST',
    path: () => '/invitation',
    caller: 'anonymous',
    in: 'form',
    base: () => [
      ['token', 'x'],
      ['password', 'long enough password'],
      ['confirm', 'long enough password'],
    ],
    fields: ['token'],
  },
  {
    name: 'POST /invitation (password, valid link)',
    method: 'POST',
    path: () => '/invitation',
    caller: 'anonymous',
    in: 'form',
    prepare: newInvitation,
    base: () => [
      ['password', 'long enough password'],
      ['confirm', 'long enough password'],
    ],
    fields: ['password', 'confirm'],
    freeText: ['password'],
    successWrites: true,
  },
  { name: 'GET /docs/access', method: 'GET', path: () => '/docs/access', caller: 'anonymous', in: 'query', base: () => [['token', 'x'.repeat(43)]] },

  // --- passkeys (administrator of company A; the add form's name is checked before the browser's ceremony) ---
  {
    name: 'POST /account/passkeys/options',
    method: 'POST',
    path: () => '/account/passkeys/options',
    caller: 'admin',
    in: 'form',
    base: () => [['name', 'Work laptop']],
    freeText: ['name'],
  },
  {
    // Without script the form cannot finish (the browser's answer is missing): always the page again, with why.
    name: 'POST /account/passkeys',
    method: 'POST',
    path: () => '/account/passkeys',
    caller: 'admin',
    in: 'form',
    base: () => [['name', 'Work laptop']],
  },
  {
    name: 'POST /account/passkeys/:id/rename',
    method: 'POST',
    path: (ids) => `/account/passkeys/${ids.passkey}/rename`,
    pathParams: [':id'],
    caller: 'admin',
    in: 'form',
    base: () => [['name', 'Work laptop']],
    freeText: ['name'],
    successWrites: true,
  },
  {
    name: 'POST /account/passkeys/:id/delete',
    method: 'POST',
    path: (ids) => `/account/passkeys/${ids.passkey}/delete`,
    pathParams: [':id'],
    caller: 'admin',
    in: 'form',
    base: () => [],
    successWrites: true,
  },
  {
    name: 'POST /sign-in/passkey',
    method: 'POST',
    path: () => '/sign-in/passkey',
    caller: 'anonymous',
    in: 'form',
    base: () => [['response', 'not a passkey answer']],
  },
  {
    // The second step's passkey routes: without a sign-in waiting for its second step, refused whatever the input.
    name: 'POST /sign-in/second-factor/passkey/options',
    method: 'POST',
    path: () => '/sign-in/second-factor/passkey/options',
    caller: 'anonymous',
    in: 'form',
    base: () => [],
  },
  {
    name: 'POST /sign-in/second-factor/passkey',
    method: 'POST',
    path: () => '/sign-in/second-factor/passkey',
    caller: 'anonymous',
    in: 'form',
    base: () => [['response', 'not a passkey answer']],
  },

  // --- the API page (administrator of company A) ---
  { name: 'GET /admin/api', method: 'GET', path: () => '/admin/api', caller: 'admin', in: 'query', base: () => [['area', 'basic']], freeText: ['area'] },
  {
    name: 'POST /admin/api/basic-auth/generate',
    method: 'POST',
    path: () => '/admin/api/basic-auth/generate',
    caller: 'admin',
    in: 'form',
    base: () => [['username', 'company-a-api']],
    validValues: { username: ['float and exponent', 'NaN', 'prototype key'] },
    successWrites: true,
  },
  {
    name: 'POST /admin/api/oauth/generate',
    method: 'POST',
    path: () => '/admin/api/oauth/generate',
    caller: 'admin',
    in: 'form',
    base: () => [['scopes', 'claims:read']],
    successWrites: true,
  },
  {
    name: 'POST /admin/api/basic-auth/:id/save',
    method: 'POST',
    path: (ids) => `/admin/api/basic-auth/${ids.pendingKey}/save`,
    pathParams: [':id'],
    caller: 'admin',
    in: 'form',
    base: () => [
      ['overlap', 'none'],
      ['lifetime', '90'],
    ],
    allOptional: true,
    successWrites: true,
  },
  {
    name: 'POST /admin/api/oauth/:id/save',
    method: 'POST',
    path: (ids) => `/admin/api/oauth/${ids.pendingClient}/save`,
    pathParams: [':id'],
    caller: 'admin',
    in: 'form',
    base: () => [
      ['overlap', '1h'],
      ['lifetime', '365'],
    ],
    allOptional: true,
    successWrites: true,
  },
  {
    name: 'GET /admin/api/credentials/:id/revoke',
    method: 'GET',
    path: (ids) => `/admin/api/credentials/${ids.activeKey}/revoke`,
    pathParams: [':id'],
    caller: 'admin',
    in: 'query',
    base: () => [],
  },
  {
    name: 'POST /admin/api/credentials/:id/revoke',
    method: 'POST',
    path: (ids) => `/admin/api/credentials/${ids.activeKey}/revoke`,
    pathParams: [':id'],
    caller: 'admin',
    in: 'form',
    base: () => [['reason', 'Leaked in a log']],
    freeText: ['reason'],
    successWrites: true,
  },
  // --- sudo mode (src/http/recent-check.ts): the password answer, and the question that echoes the action's fields ---
  {
    name: 'POST /admin/api/basic-auth/generate (re-authentication password)',
    method: 'POST',
    path: () => '/admin/api/basic-auth/generate',
    caller: 'admin',
    in: 'form',
    base: () => [
      ['username', 'reauth-api'],
      ['reauth_password', 'not the password'],
    ],
    fields: ['reauth_password'],
  },
  {
    name: 'POST /admin/api/credentials/:id/revoke (stale check: the question carries the fields)',
    method: 'POST',
    path: (ids) => `/admin/api/credentials/${ids.activeKey}/revoke`,
    caller: 'stale',
    in: 'form',
    base: () => [['reason', 'Leaked in a log']],
  },
  {
    name: 'POST /admin/api/oauth/generate (stale check: the question carries the fields)',
    method: 'POST',
    path: () => '/admin/api/oauth/generate',
    caller: 'stale',
    in: 'form',
    base: () => [['scopes', 'claims:read']],
  },
  {
    name: 'GET /admin/api/credentials/:id/end-overlap',
    method: 'GET',
    path: (ids) => `/admin/api/credentials/${ids.activeKey}/end-overlap`,
    pathParams: [':id'],
    caller: 'admin',
    in: 'query',
    base: () => [],
  },
  {
    name: 'POST /admin/api/credentials/:id/end-overlap',
    method: 'POST',
    path: (ids) => `/admin/api/credentials/${ids.activeKey}/end-overlap`,
    pathParams: [':id'],
    caller: 'admin',
    in: 'form',
    base: () => [],
  },
  {
    name: 'POST /admin/api/credentials/:id/allowlist',
    method: 'POST',
    path: (ids) => `/admin/api/credentials/${ids.activeKey}/allowlist`,
    pathParams: [':id'],
    caller: 'admin',
    in: 'form',
    base: () => [['allowlist', '203.0.113.0/24']],
    // An empty list (blank or only separators) is valid: it allows every address again.
    validValues: { allowlist: ['empty', 'whitespace', 'line breaks'] },
    successWrites: true,
  },
  { name: 'GET /admin/api/docs-access', method: 'GET', path: () => '/admin/api/docs-access', caller: 'admin', in: 'query', base: () => [['step', 'email']] },
  {
    name: 'POST /admin/api/docs-access/next',
    method: 'POST',
    path: () => '/admin/api/docs-access/next',
    caller: 'admin',
    in: 'form',
    base: () => [['email', 'dev@a.test']],
  },
  {
    name: 'POST /admin/api/docs-access/back',
    method: 'POST',
    path: () => '/admin/api/docs-access/back',
    caller: 'admin',
    in: 'form',
    base: () => [['email', 'dev@a.test']],
    freeText: ['email'],
    allOptional: true,
    acceptsAnyObject: true,
  },
  {
    name: 'POST /admin/api/docs-access',
    method: 'POST',
    path: () => '/admin/api/docs-access',
    caller: 'admin',
    in: 'form',
    base: () => [['email', 'dev@a.test']],
    successWrites: true,
  },
  {
    name: 'GET /audit',
    method: 'GET',
    path: () => '/audit',
    caller: 'admin',
    in: 'query',
    base: () => [
      ['action', 'auth.sign_in'],
      ['from', '2026-01-01'],
      ['to', '2026-12-31'],
      ['company', '1'],
      ['page', '1'],
    ],
    validValues: { action: ['prototype key'] },
  },
  {
    name: 'GET /audit.csv',
    method: 'GET',
    path: () => '/audit.csv',
    caller: 'admin',
    in: 'query',
    base: () => [
      ['action', 'auth.sign_in'],
      ['from', '2026-01-01'],
      ['to', '2026-12-31'],
      ['page', '1'],
    ],
    validValues: { action: ['prototype key'] },
  },

  // --- second factors ---
  {
    name: 'POST /account/security/totp/:id/confirm',
    method: 'POST',
    path: (ids) => `/account/security/totp/${ids.pendingTotp}/confirm`,
    pathParams: [':id'],
    caller: 'admin',
    in: 'form',
    base: () => [
      ['name', 'Phone'],
      ['code', '000000'],
    ],
    freeText: ['name'],
  },
  {
    name: 'POST /account/security/totp/:id/remove',
    method: 'POST',
    path: (ids) => `/account/security/totp/${ids.pendingTotp}/remove`,
    pathParams: [':id'],
    caller: 'admin',
    in: 'form',
    base: () => [],
  },
  {
    name: 'POST /operator/security',
    method: 'POST',
    path: () => '/operator/security',
    caller: 'operator',
    in: 'form',
    base: () => [['required', 'on']],
    allOptional: true,
    successWrites: true,
  },
  {
    name: 'POST /operator/companies/:id/second-factor',
    method: 'POST',
    path: (ids) => `/operator/companies/${ids.companyA}/second-factor`,
    pathParams: [':id'],
    caller: 'operator',
    in: 'form',
    base: () => [['required', 'on']],
    allOptional: true,
    successWrites: true,
  },
  {
    name: 'POST /operator/companies/:id/users/:userId/reset-factors',
    method: 'POST',
    path: (ids) => `/operator/companies/${ids.companyA}/users/${ids.victim}/reset-factors`,
    pathParams: [':id', ':userId'],
    caller: 'operator',
    in: 'form',
    base: () => [],
    successWrites: true,
  },

  // --- the operator's desk ---
  {
    name: 'POST /operator/companies',
    method: 'POST',
    path: () => '/operator/companies',
    caller: 'operator',
    in: 'form',
    base: () => [['name', 'New company']],
    freeText: ['name'],
    successWrites: true,
  },
  {
    name: 'GET /operator/companies/:id',
    method: 'GET',
    path: (ids) => `/operator/companies/${ids.companyA}`,
    pathParams: [':id'],
    caller: 'operator',
    in: 'query',
    base: () => [],
  },
  {
    name: 'POST /operator/companies/:id/invitations',
    method: 'POST',
    path: (ids) => `/operator/companies/${ids.companyA}/invitations`,
    pathParams: [':id'],
    caller: 'operator',
    in: 'form',
    base: () => [
      ['email', 'new@a.test'],
      ['isOperator', 'on'],
    ],
    successWrites: true,
  },
  {
    name: 'POST /operator/companies/:id/users/:userId/disable',
    method: 'POST',
    path: (ids) => `/operator/companies/${ids.companyA}/users/${ids.victim}/disable`,
    pathParams: [':id', ':userId'],
    caller: 'operator',
    in: 'form',
    base: () => [],
    successWrites: true,
  },
  {
    name: 'POST /operator/companies/:id/users/:userId/enable',
    method: 'POST',
    path: (ids) => `/operator/companies/${ids.companyA}/users/${ids.victim}/enable`,
    pathParams: [':id', ':userId'],
    caller: 'operator',
    in: 'form',
    base: () => [],
    successWrites: true,
  },
  {
    name: 'POST /operator/companies/:id/scopes',
    method: 'POST',
    path: (ids) => `/operator/companies/${ids.companyA}/scopes`,
    pathParams: [':id'],
    caller: 'operator',
    in: 'form',
    base: () => [['scopes', 'claims:read']],
    allOptional: true,
    successWrites: true,
  },
  {
    name: 'POST /operator/companies/:id/credential-lifetime',
    method: 'POST',
    path: (ids) => `/operator/companies/${ids.companyA}/credential-lifetime`,
    pathParams: [':id'],
    caller: 'operator',
    in: 'form',
    base: () => [['maxLifetime', '90']],
    successWrites: true,
  },
  {
    name: 'POST /operator/companies/:id/leak-policy',
    method: 'POST',
    path: (ids) => `/operator/companies/${ids.companyA}/leak-policy`,
    pathParams: [':id'],
    caller: 'operator',
    in: 'form',
    base: () => [['policy', 'report']],
    successWrites: true,
  },
  {
    name: 'GET /operator/credentials/:id/revoke',
    method: 'GET',
    path: (ids) => `/operator/credentials/${ids.activeClient}/revoke`,
    pathParams: [':id'],
    caller: 'operator',
    in: 'query',
    base: () => [],
  },
  {
    name: 'POST /operator/credentials/:id/revoke',
    method: 'POST',
    path: (ids) => `/operator/credentials/${ids.activeClient}/revoke`,
    pathParams: [':id'],
    caller: 'operator',
    in: 'form',
    base: () => [['reason', 'Compromised']],
    freeText: ['reason'],
    successWrites: true,
  },
  {
    name: 'POST /operator/scopes',
    method: 'POST',
    path: () => '/operator/scopes',
    caller: 'operator',
    in: 'form',
    base: () => [
      ['name', 'reports:read'],
      ['description', 'Read reports'],
    ],
    freeText: ['name', 'description'],
    successWrites: true,
  },
  {
    name: 'POST /operator/scopes/describe',
    method: 'POST',
    path: () => '/operator/scopes/describe',
    caller: 'operator',
    in: 'form',
    base: () => [
      ['name', 'claims:read'],
      ['description', 'Read claims'],
    ],
    freeText: ['description'],
    successWrites: true,
  },
  {
    name: 'POST /operator/scopes/delete',
    method: 'POST',
    path: () => '/operator/scopes/delete',
    caller: 'operator',
    in: 'form',
    base: () => [['name', 'no-such-scope']],
  },
  {
    name: 'GET /operator/outbox',
    method: 'GET',
    path: () => '/operator/outbox',
    caller: 'operator',
    in: 'query',
    base: () => [
      ['state', 'failed'],
      ['kind', 'credential_saved'],
      ['page', '1'],
    ],
    validValues: { kind: ['prototype key'] },
  },
  {
    name: 'GET /operator/outbox/:id',
    method: 'GET',
    path: (ids) => `/operator/outbox/${ids.outbox}`,
    pathParams: [':id'],
    caller: 'operator',
    in: 'query',
    base: () => [],
  },
  {
    name: 'POST /operator/outbox/:id/retry',
    method: 'POST',
    path: (ids) => `/operator/outbox/${ids.outbox}/retry`,
    pathParams: [':id'],
    caller: 'operator',
    in: 'form',
    base: () => [],
    successWrites: true,
  },
  {
    name: 'GET /operator/access-requests',
    method: 'GET',
    path: () => '/operator/access-requests',
    caller: 'operator',
    in: 'query',
    base: () => [
      ['status', 'pending'],
      ['company', '1'],
      ['email', 'dev'],
      ['page', '1'],
    ],
    freeText: ['email'],
  },
  {
    name: 'POST /operator/access-requests/:id/grant',
    method: 'POST',
    path: (ids) => `/operator/access-requests/${ids.accessRequest}/grant`,
    pathParams: [':id'],
    caller: 'operator',
    in: 'form',
    base: () => [['message', 'Welcome']],
    freeText: ['message'],
    allOptional: true,
    successWrites: true,
  },
  {
    name: 'POST /operator/access-requests/:id/deny',
    method: 'POST',
    path: (ids) => `/operator/access-requests/${ids.accessRequest}/deny`,
    pathParams: [':id'],
    caller: 'operator',
    in: 'form',
    base: () => [['message', 'Not yet']],
    freeText: ['message'],
    allOptional: true,
    successWrites: true,
  },
  {
    name: 'POST /operator/access-requests/:id/revoke',
    method: 'POST',
    path: (ids) => `/operator/access-requests/${ids.accessRequest}/revoke`,
    pathParams: [':id'],
    caller: 'operator',
    in: 'form',
    base: () => [],
    successWrites: true,
  },
  {
    name: 'POST /operator/access-requests/:id/resend',
    method: 'POST',
    path: (ids) => `/operator/access-requests/${ids.accessRequest}/resend`,
    pathParams: [':id'],
    caller: 'operator',
    in: 'form',
    base: () => [],
    successWrites: true,
  },
  {
    name: 'POST /operator/signing-keys/rotate',
    method: 'POST',
    path: () => '/operator/signing-keys/rotate',
    caller: 'operator',
    in: 'form',
    base: () => [],
    successWrites: true,
  },
  {
    name: 'POST /operator/signing-keys/retire-now',
    method: 'POST',
    path: () => '/operator/signing-keys/retire-now',
    caller: 'operator',
    in: 'form',
    base: () => [['confirm', 'on']],
    successWrites: true,
  },

  // --- the platform API ---
  {
    name: 'POST /oauth/token',
    method: 'POST',
    path: () => '/oauth/token',
    caller: 'api',
    in: 'oauth',
    authorization: clientAuth,
    base: () => [
      ['grant_type', 'client_credentials'],
      ['scope', 'claims:read'],
    ],
    validValues: { scope: ['empty'] },
    successWrites: true,
  },
  {
    name: 'POST /oauth/token (client_secret_post)',
    method: 'POST',
    path: () => '/oauth/token',
    caller: 'api',
    in: 'oauth',
    base: (w) => [
      ['grant_type', 'client_credentials'],
      ['client_id', w.secrets.clientId],
      ['client_secret', w.secrets.clientSecret],
    ],
    fields: ['client_id', 'client_secret'],
    successWrites: true,
  },
  {
    name: 'POST /oauth/introspect',
    method: 'POST',
    path: () => '/oauth/introspect',
    caller: 'api',
    in: 'oauth',
    authorization: clientAuth,
    base: () => [
      ['token', 'x'],
      ['token_type_hint', 'access_token'],
    ],
    freeText: ['token', 'token_type_hint'],
    onSuccess: inactive,
  },
  {
    name: 'POST /oauth/revoke',
    method: 'POST',
    path: () => '/oauth/revoke',
    caller: 'api',
    in: 'oauth',
    authorization: clientAuth,
    base: () => [
      ['token', 'x'],
      ['token_type_hint', 'access_token'],
    ],
    freeText: ['token', 'token_type_hint'],
  },
  {
    // A public JSON API (decision 0020): any string may be reported, so every one is accepted alike; none here is ours.
    name: 'POST /api/v1/credentials/leaked',
    method: 'POST',
    path: () => '/api/v1/credentials/leaked',
    caller: 'api',
    in: 'json',
    jsonArrays: ['credentials'],
    base: () => [
      ['credentials', 'ak_not_one_of_ours'],
      ['url', 'https://example.com/leak'],
    ],
    freeText: ['credentials'],
  },
  {
    name: 'GET /auth/verify',
    method: 'GET',
    path: () => '/auth/verify',
    caller: 'api',
    in: 'query',
    authorization: apiKeyAuth,
    base: () => [['scope', 'claims:read']],
    validValues: { scope: ['empty'] },
  },
];

/** The Authorization header, attacked on every platform endpoint that reads it. */
const AUTH_TARGETS = ['GET /api/v1/me', 'GET /auth/verify', 'POST /oauth/token', 'POST /oauth/introspect', 'POST /oauth/revoke'];
// ------------------------------------------------------------------------------------------------

interface Case {
  target: string;
  label: string;
  run: () => Promise<Raw>;
  payload?: string;
  mayAccept: boolean;
  successWrites: boolean;
  onSuccess?: (res: Raw) => string | undefined;
  /** Refusals that come from Node's HTTP parser (no application code ran) carry no message body. */
  parserMayRefuse?: boolean;
  prepare?: () => [string, string][];
  caller: Caller;
}

// SQLite only: every case runs inside a transaction of the one SQLite connection the app shares with the test,
// rolled back after it, so 3,600 cases leave no trace on each other; a PostgreSQL pool gives no such handle.
// What it checks is how the HTTP layer and the services take hostile input, which does not depend on the engine.
const SUITE = 'hostile input: never a 5xx, never reflected, nothing changed by a refusal';
if (TEST_ENGINE === 'sqlite') describe(SUITE, hostileInputSuite);
else describe(SUITE, () => it.skip('runs on SQLite only (see above)', () => undefined));

function hostileInputSuite(): void {
  // Cases are generated from the worlds' ids at describe time, so the worlds are seeded then (SQLite only until
  // the modules move to Kysely; see seedWorldSync).
  const makeWorld = (): World => {
    const ctx = createTestContext();
    const seeded = seedWorldSync(ctx);
    // An authenticator app admin A has started to add (its confirm form is a target).
    const sealed = seal('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', deriveSealingKey(ctx.config.sessionSecret, SEALING_PURPOSE));
    const pendingTotp = Number(
      ctx.db.prepare("INSERT INTO totp_factors (user_id, name, secret_sealed, created_at) VALUES (?, '', ?, ?)").run(seeded.ids.adminA, sealed, ctx.clock.now())
        .lastInsertRowid,
    );
    // Admin A's passkey, for the route that removes one: its id is fixed now (the cases are made from the ids),
    // its row is added after the sign-ins (a passkey is a second factor: before them, admin A would meet the second step).
    const passkey = 1;
    return { ctx, server: undefined as unknown as http.Server, port: 0, ...seeded, ids: { ...seeded.ids, pendingTotp, passkey } };
  };
  const publicWorld = makeWorld(); // anonymous and API callers: its clock moves on between cases, so throttles never pile up
  const consoleWorld = makeWorld(); // signed-in callers
  const staleWorld = makeWorld(); // a signed-in caller whose check is 11 minutes old (its clock stands still after that)
  const sessions: Partial<Record<Caller, Session>> = {};

  beforeAll(async () => {
    for (const world of [publicWorld, consoleWorld, staleWorld]) Object.assign(world, await listen(world.ctx));
    sessions.admin = await signedInSession(consoleWorld.port, 'admin@a.test');
    sessions.operator = await signedInSession(consoleWorld.port, 'operator@ops.test');
    sessions.stale = await signedInSession(staleWorld.port, 'admin@a.test');
    for (const world of [publicWorld, consoleWorld, staleWorld]) {
      world.ctx.db
        .prepare("INSERT INTO passkeys (id, user_id, credential_id, public_key, name, created_at) VALUES (?, ?, 'hostile-passkey', x'00', 'Laptop', ?)")
        .run(world.ids.passkey, world.ids.adminA, world.ctx.clock.now());
    }
    staleWorld.ctx.clock.advance(11 * 60_000);
  });

  afterAll(async () => {
    for (const w of [publicWorld, consoleWorld, staleWorld]) {
      await new Promise((resolve) => w.server.close(resolve));
      await w.ctx.close();
    }
  });

  const worldFor = (caller: Caller) => (caller === 'stale' ? staleWorld : caller === 'admin' || caller === 'operator' ? consoleWorld : publicWorld);

  /** Sends one request as the caller, with its session's cookie and CSRF token where it has one. */
  async function send(
    t: Target,
    pathText: string | Buffer,
    fields: [string, string | Hostile][],
    opts: { body?: Buffer; contentType?: string | null; csrfInHeader?: boolean; authorization?: (string | Buffer)[]; extraHeaders?: HeaderList } = {},
  ): Promise<Raw> {
    const w = worldFor(t.caller);
    const headers: HeaderList = [];
    let session = sessions[t.caller];
    if (t.caller === 'anonymous') session = await anonymousSession(w.port);
    if (session) headers.push(['Cookie', session.cookie]);
    const auth = opts.authorization ?? (t.authorization ? [t.authorization(w)] : []);
    for (const a of auth) headers.push(['Authorization', a]);
    if (t.method === 'GET') {
      const target = Buffer.concat([Buffer.isBuffer(pathText) ? pathText : Buffer.from(pathText), queryString(fields)]);
      return rawRequest(w.port, 'GET', target, [...headers, ...(opts.extraHeaders ?? [])]);
    }
    const withCsrf: [string, string | Hostile][] = session && !opts.csrfInHeader ? [['_csrf', session.csrf], ...fields] : fields;
    if (session && opts.csrfInHeader) headers.push(['X-CSRF-Token', session.csrf]);
    const body = opts.body ?? (t.in === 'json' ? jsonBody(withCsrf, t.jsonArrays) : formBody(withCsrf));
    const contentType = opts.contentType === undefined ? (t.in === 'json' ? 'application/json' : 'application/x-www-form-urlencoded') : opts.contentType;
    if (contentType !== null) headers.push(['Content-Type', contentType]);
    return rawRequest(w.port, 'POST', pathText, [...headers, ...(opts.extraHeaders ?? [])], body);
  }

  function casesFor(t: Target): Case[] {
    const cases: Case[] = [];
    const w = () => worldFor(t.caller);
    const fields = t.fields ?? t.base(w()).map(([name]) => name);
    const fill = (overrides: Record<string, Hostile | string>, prepared: [string, string][] = []) =>
      [...prepared, ...t.base(w())].map(([name, value]): [string, string | Hostile] => [name, overrides[name] ?? value]);
    const mk = (label: string, run: (prepared: [string, string][]) => Promise<Raw>, extra: Partial<Case> = {}): Case => {
      let prepared: [string, string][] = [];
      return {
        target: t.name,
        label,
        caller: t.caller,
        mayAccept: false,
        successWrites: t.successWrites ?? false,
        onSuccess: t.onSuccess,
        prepare: t.prepare ? () => (prepared = t.prepare!(w())) : undefined,
        run: () => run(prepared),
        ...extra,
      };
    };

    const BLANK = ['empty', 'whitespace', 'line breaks'];
    // Each field, each hostile value.
    for (const field of fields) {
      for (const v of CORPUS) {
        if (v.bodyOnly && t.method === 'GET') continue;
        const mayAccept =
          (t.freeText?.includes(field) ?? false) ||
          (t.validValues?.[field]?.includes(v.label) ?? false) ||
          // A blank optional parameter is a parameter not given (no filter, the default overlap, no message).
          (BLANK.includes(v.label) && (t.in === 'query' || t.allOptional === true));
        cases.push(
          mk(`${field} = ${v.label}`, (prepared) => send(t, t.path(w().ids), fill({ [field]: v, ...(field === 'password' ? { confirm: v } : {}) }, prepared)), {
            payload: v.text,
            mayAccept,
            // Bytes above 0x7F in the request line are refused by Node's HTTP parser itself.
            parserMayRefuse: t.method === 'GET' && v.label.endsWith('(raw bytes)'),
          }),
        );
      }
      // The same parameter twice (a list where one value is expected).
      cases.push(
        mk(`${field} given twice`, (prepared) => send(t, t.path(w().ids), [...fill({}, prepared), [field, 'second value']], { csrfInHeader: true }), {
          mayAccept: field === 'scopes' || field === 'scope' || (t.freeText?.includes(field) ?? false),
        }),
      );
    }
    // Path parameters: each hostile id.
    for (const param of t.pathParams ?? []) {
      const ids = w().ids;
      const real = t.path(ids);
      const position = (() => {
        const template = t.name.split(' ')[1];
        return template.split('/').indexOf(param);
      })();
      const hostileIds: { label: string; raw: string | Buffer }[] = [
        { label: 'zero', raw: '0' },
        { label: 'negative', raw: '-1' },
        { label: 'letters', raw: 'abc' },
        { label: 'exponent', raw: '1e3' },
        { label: 'hex', raw: '0x10' },
        { label: 'beyond 2^53', raw: '9007199254740993' },
        { label: '400 digits', raw: '9'.repeat(400) },
        { label: 'SQL', raw: encodeURIComponent('1 OR 1=1') },
        { label: 'encoded traversal', raw: '..%2F..%2Fetc%2Fpasswd' },
        { label: 'encoded NUL', raw: '1%00' },
        { label: 'invalid percent-encoding', raw: '%E0%A4%A' },
        { label: 'invalid UTF-8 (percent-encoded)', raw: '%FF%FE' },
        { label: 'invalid UTF-8 (raw bytes)', raw: Buffer.from([0xff, 0xfe]) },
        { label: 'another company’s id (999999)', raw: '999999' },
      ];
      for (const h of hostileIds) {
        const parts = real.split('/');
        const before = Buffer.from(parts.slice(0, position).join('/') + '/');
        const after = Buffer.from(parts.length > position + 1 ? `/${parts.slice(position + 1).join('/')}` : '');
        const pathBytes = Buffer.concat([before, Buffer.isBuffer(h.raw) ? h.raw : Buffer.from(h.raw), after]);
        cases.push(mk(`${param} = ${h.label}`, (prepared) => send(t, pathBytes, fill({}, prepared)), { parserMayRefuse: Buffer.isBuffer(h.raw) }));
      }
    }
    if (t.method === 'POST') {
      const form = (prepared: [string, string][]) => fill({}, prepared).map(([n, v]): [string, string] => [n, v as string]);
      const json = (prepared: [string, string][], transform: (o: Record<string, unknown>) => unknown = (o) => o) =>
        Buffer.from(JSON.stringify(transform(Object.fromEntries(form(prepared)))));
      // A JSON object without the form's fields is a valid submission where every field is optional.
      const anyObject = fields.length === 0 || t.acceptsAnyObject === true;
      const objectWithoutFields = anyObject || t.allOptional === true;
      const structural: [string, (prepared: [string, string][]) => Promise<Raw>, boolean?][] = [
        // JSON where a form is expected: the same fields as a JSON object are read like the form (the
        // console's body parser takes both); values of the wrong type never are.
        ['JSON body with the same fields', (p) => send(t, t.path(w().ids), [], { body: json(p), contentType: 'application/json', csrfInHeader: true }), true],
        [
          'JSON: every value an array',
          (p) =>
            send(t, t.path(w().ids), [], {
              body: json(p, (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, [v, v]]))),
              contentType: 'application/json',
              csrfInHeader: true,
            }),
          anyObject || fields.includes('scopes'),
        ],
        [
          'JSON: every value an object',
          (p) =>
            send(t, t.path(w().ids), [], {
              body: json(p, (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, { $gt: v }]))),
              contentType: 'application/json',
              csrfInHeader: true,
            }),
          anyObject,
        ],
        [
          'JSON: every value a number',
          (p) =>
            send(t, t.path(w().ids), [], {
              body: json(p, (o) => Object.fromEntries(Object.keys(o).map((k) => [k, 1e308]))),
              contentType: 'application/json',
              csrfInHeader: true,
            }),
          anyObject,
        ],
        [
          'JSON: every value null',
          (p) =>
            send(t, t.path(w().ids), [], {
              body: json(p, (o) => Object.fromEntries(Object.keys(o).map((k) => [k, null]))),
              contentType: 'application/json',
              csrfInHeader: true,
            }),
          anyObject,
        ],
        [
          'JSON: __proto__ pollution',
          (p) =>
            send(t, t.path(w().ids), [], {
              body: Buffer.from(`{"__proto__":{"isOperator":true,"polluted":1},"constructor":{"prototype":{"polluted":1}},${json(p).toString().slice(1)}`),
              contentType: 'application/json',
              csrfInHeader: true,
            }),
          true,
        ],
        [
          'JSON: 500 levels deep',
          () =>
            send(t, t.path(w().ids), [], {
              body: Buffer.from(`${'{"a":'.repeat(500)}1${'}'.repeat(500)}`),
              contentType: 'application/json',
              csrfInHeader: true,
            }),
          objectWithoutFields,
        ],
        [
          'malformed JSON',
          () => send(t, t.path(w().ids), [], { body: Buffer.from('{"email": "a@b.test",'), contentType: 'application/json', csrfInHeader: true }),
        ],
        ['JSON top-level array', () => send(t, t.path(w().ids), [], { body: Buffer.from('[1,2,3]'), contentType: 'application/json', csrfInHeader: true })],
        ['JSON top-level string', () => send(t, t.path(w().ids), [], { body: Buffer.from('"form"'), contentType: 'application/json', csrfInHeader: true })],
        [
          'JSON with invalid UTF-8',
          () =>
            send(t, t.path(w().ids), [], {
              body: Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
              contentType: 'application/json',
              csrfInHeader: true,
            }),
          objectWithoutFields,
        ],
        // (A form without fields has an empty body: whatever its declared type, there is nothing to refuse.)
        [
          'text/plain body',
          (p) => send(t, t.path(w().ids), [], { body: formBody(form(p)), contentType: 'text/plain', csrfInHeader: true }),
          fields.length === 0,
        ],
        [
          'XML body',
          () =>
            send(t, t.path(w().ids), [], {
              body: Buffer.from('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'),
              contentType: 'application/xml',
              csrfInHeader: true,
            }),
        ],
        [
          'multipart body',
          (p) =>
            send(t, t.path(w().ids), [], {
              body: Buffer.from(`--b\r\nContent-Disposition: form-data; name="${fields[0] ?? 'x'}"\r\n\r\n${form(p)[0]?.[1] ?? ''}\r\n--b--\r\n`),
              contentType: 'multipart/form-data; boundary=b',
              csrfInHeader: true,
            }),
        ],
        ['no Content-Type', (p) => send(t, t.path(w().ids), [], { body: formBody(form(p)), contentType: null, csrfInHeader: true }), fields.length === 0],
        [
          'UTF-16 charset',
          (p) =>
            send(t, t.path(w().ids), [], {
              body: Buffer.from(formBody(form(p)).toString(), 'utf16le'),
              contentType: 'application/x-www-form-urlencoded; charset=utf-16',
              csrfInHeader: true,
            }),
        ],
        [
          'gzip Content-Encoding with garbage',
          () => send(t, t.path(w().ids), [], { body: Buffer.from('not gzip at all'), csrfInHeader: true, extraHeaders: [['Content-Encoding', 'gzip']] }),
        ],
        [
          'unknown Content-Encoding',
          () => send(t, t.path(w().ids), [], { body: Buffer.from('x=1'), csrfInHeader: true, extraHeaders: [['Content-Encoding', 'x-hostile']] }),
        ],
        // RFC 6749 3.2: the authorization server ignores parameters it does not know; so does a JSON API its members.
        [
          '300 parameters',
          (p) => send(t, t.path(w().ids), [...fill({}, p), ...Array.from({ length: 300 }, (_, i): [string, string] => [`p${i}`, 'x'])], { csrfInHeader: true }),
          t.in === 'oauth' || t.in === 'json',
        ],
        ['1 MB body of one parameter', (p) => send(t, t.path(w().ids), [...fill({}, p), ['padding', 'z'.repeat(MB)]], { csrfInHeader: true })],
      ];
      for (const [label, run, mayAccept] of structural) cases.push(mk(label, run, { mayAccept: mayAccept ?? false }));
      if (t.caller !== 'api') {
        cases.push(mk('CSRF token given twice', (p) => send(t, t.path(w().ids), [['_csrf', 'forged'], ...fill({}, p)])));
        cases.push(mk('CSRF token missing', (p) => send(t, t.path(w().ids), fill({}, p), { csrfInHeader: true, extraHeaders: [['X-CSRF-Token', 'forged']] })));
      }
    }
    // Headers and the URL itself, oversized: refused by Node's HTTP parser (16 KB).
    cases.push(
      mk(
        '20 KB query string',
        (p) =>
          send(
            t,
            t.path(w().ids),
            t.method === 'GET' ? [...fill({}, p), ['q', 'q'.repeat(20 * 1024)]] : [],
            t.method === 'GET' ? {} : { extraHeaders: [['X-Padding', 'p'.repeat(20 * 1024)]] },
          ),
        { parserMayRefuse: true },
      ),
    );
    cases.push(
      mk('raw NUL in the request line', () => send(t, Buffer.concat([Buffer.from(t.path(w().ids)), Buffer.from([0x00])]), fill({})), { parserMayRefuse: true }),
    );
    return cases;
  }

  function authCases(): Case[] {
    const cases: Case[] = [];
    for (const name of AUTH_TARGETS) {
      const t: Target = TARGETS.find((x) => x.name === name) ?? { name, method: 'GET', path: () => '/api/v1/me', caller: 'api', in: 'query', base: () => [] };
      for (const a of AUTH_CORPUS) {
        cases.push({
          target: name,
          label: `Authorization: ${a.label}`,
          caller: 'api',
          mayAccept: false,
          successWrites: false,
          parserMayRefuse: a.label.startsWith('raw') || a.label.startsWith('control'),
          run: () => {
            const values = a.values.map((v) => (v === 'CLIENT_SECRET_AS_KEY' ? basic('company-a-api', publicWorld.secrets.clientSecret) : v));
            return send({ ...t, authorization: undefined }, t.path(publicWorld.ids), t.base(publicWorld), { authorization: values });
          },
        });
      }
      // Oversized: past Node's header limit.
      cases.push({
        target: name,
        label: 'Authorization: 20 KB',
        caller: 'api',
        mayAccept: false,
        successWrites: false,
        parserMayRefuse: true,
        run: () =>
          send({ ...t, authorization: undefined }, t.path(publicWorld.ids), t.base(publicWorld), { authorization: [`Basic ${'A'.repeat(20 * 1024)}`] }),
      });
    }
    return cases;
  }

  const ALL_CASES = [...TARGETS.flatMap((t) => casesFor(t)), ...authCases()];

  /** Runs a case inside a transaction that is rolled back, and judges it: the status it got (0: no answer) and the problems found. */
  async function runCase(c: Case): Promise<{ status: number; problems: string[] }> {
    const world = worldFor(c.caller);
    const db = world.ctx.db;
    if (world === publicWorld) world.ctx.clock.advance(16 * 60_000); // past every failure throttle's window
    // What the server's own timers would do at this (fake) time, done now: the 30-second sweep (with its
    // expiry warnings) and the last-used and usage flushes. One landing inside the case finds nothing to do.
    await (world.ctx.app.locals.flushWriteBehind as () => Promise<void>)();
    await runCredentialHousekeeping({
      db: world.ctx.database,
      clock: world.ctx.clock,
      audit: new AuditLog(world.ctx.database, world.ctx.clock),
      mailer: { send: () => Promise.resolve(0) },
    });
    db.exec('BEGIN');
    try {
      c.prepare?.();
      const before = digest(db);
      const res = await c.run();
      const after = digest(db);
      const problems: string[] = [];
      const judged = { status: res.status, problems };
      const type = header(res, 'content-type');
      if (res.status === 0) {
        if (!c.parserMayRefuse) problems.push(`no answer (${res.noAnswer})`);
        return judged;
      }
      if (res.status >= 500) problems.push(`answered ${res.status}: ${res.body.slice(0, 200)}`);
      if (res.status >= 400 && res.status < 500) {
        if (after !== before) problems.push(`refused with ${res.status}, but the database changed`);
        const fromParser = c.parserMayRefuse && res.body === '' && [400, 413, 414, 431].includes(res.status);
        if (fromParser) {
          // Node's HTTP parser refused it before any application code ran: nothing more to check.
        } else if (/json/.test(type)) {
          const body = JSON.parse(res.body) as { error?: unknown; error_description?: unknown };
          if (typeof body.error !== 'string' || body.error === '')
            problems.push(`JSON ${res.status} without an "error" (RFC 6749 5.2 / RFC 6750 3.1 shape): ${res.body.slice(0, 100)}`);
        } else if (/html/.test(type)) {
          // A form that failed shows a message by the field (or for the form); any other refusal is a page that says what happened.
          const fieldMessage = /class="(?:error|flash flash-error)[^"]*"[^>]*>\s*[^<\s]/.test(res.body) || /role="alert"[^>]*>\s*[^<\s]/.test(res.body);
          const explainingPage = res.status !== 422 && /<h1>[^<]+<\/h1>\s*(?:<p[^>]*>|\{)/.test(res.body);
          if (!fieldMessage && !explainingPage) problems.push(`HTML ${res.status} without a visible message`);
        } else if (!(res.status === 401 && header(res, 'www-authenticate'))) {
          if (res.status !== 404 || res.body !== '') problems.push(`${res.status} with an unexpected content type "${type}"`);
        }
      }
      if (res.status > 0 && res.status < 400) {
        if (!c.mayAccept) problems.push(`accepted with ${res.status}: ${res.body.slice(0, 160)}`);
        if (!c.successWrites && after !== before) problems.push(`accepted with ${res.status} and changed the database`);
        const extra = c.onSuccess?.(res);
        if (extra) problems.push(extra);
        // Accepted text is shown somewhere: follow the redirect, the page must show it escaped.
        const location = header(res, 'location');
        if (res.status === 303 && location.startsWith('/') && !location.startsWith('//') && c.payload && DANGEROUS.test(c.payload)) {
          const session = sessions[c.caller];
          const page = await rawRequest(world.port, 'GET', location, session ? [['Cookie', session.cookie]] : []);
          if (page.body.includes(c.payload)) problems.push(`the page after the redirect shows the payload unescaped`);
        }
      }
      if (/html/.test(type) && c.payload && DANGEROUS.test(c.payload) && res.body.includes(c.payload)) problems.push('payload reflected unescaped in HTML');
      if (/json/.test(type) && header(res, 'x-content-type-options') !== 'nosniff') problems.push('JSON without X-Content-Type-Options: nosniff');
      if ((res.headers['set-cookie'] ?? []).some((cookie) => cookie.startsWith('injected='))) problems.push('header injected');
      const probe: Record<string, unknown> = {};
      if (probe.polluted !== undefined || probe.isOperator !== undefined) problems.push('Object.prototype was polluted');
      return judged;
    } finally {
      db.exec('ROLLBACK');
    }
  }

  // One test per target, which runs that target's cases and judges them itself (so `-t <target>` checks it alone).
  const AUTH_TEST = 'Authorization header (platform API)';
  const TEST_NAMES = [...TARGETS.map((t) => t.name), AUTH_TEST];
  const belongsTo = (name: string, c: Case) =>
    name === AUTH_TEST ? c.label.startsWith('Authorization:') : c.target === name && !c.label.startsWith('Authorization:');

  it.each(TEST_NAMES)(
    '%s',
    async (name) => {
      const cases = ALL_CASES.filter((c) => belongsTo(name, c));
      expect(cases.length).toBeGreaterThan(0);
      const failures: string[] = [];
      const serverErrors: string[] = [];
      for (const c of cases) {
        const { status, problems } = await runCase(c);
        if (status >= 500) serverErrors.push(`${c.label}: ${status}`);
        for (const p of problems) failures.push(`${c.target} [${c.label}]: ${p}`);
      }
      expect(failures).toEqual([]);
      expect(serverErrors).toEqual([]);
    },
    120_000,
  ); // a target has up to a few hundred cases, each a request and two digests of the database

  it('has enough cases to mean something, each judged by exactly one target’s test', () => {
    console.log(`hostile input: ${ALL_CASES.length} cases against ${TARGETS.length} targets (${AUTH_TARGETS.length} with the Authorization corpus)`);
    expect(new Set(TEST_NAMES).size).toBe(TEST_NAMES.length);
    const unjudged = ALL_CASES.filter((c) => TEST_NAMES.filter((name) => belongsTo(name, c)).length !== 1).map((c) => `${c.target} [${c.label}]`);
    expect(unjudged).toEqual([]);
    expect(ALL_CASES.length).toBeGreaterThan(2000);
  });
}
