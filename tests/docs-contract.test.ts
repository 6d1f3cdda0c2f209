import { execFileSync } from 'node:child_process';
import http from 'node:http';
import type net from 'node:net';
import Ajv2020 from 'ajv/dist/2020';
import { MINUTE } from '../src/clock';
import { SYSTEM_ACTOR } from '../src/features/audit/service';
import { setAllowlist } from '../src/features/credentials/allowlist';
import { ROOT } from '../src/paths';
import type { JsonSchema, OpenApiDocument, OpenApiOperation } from '../src/features/docs-access/openapi';
import { createTestContext, seedCompany, signIn } from './helpers';
import type { Agent } from './helpers';
import { clientBasic, createApiKey, createClient, credentialsDeps } from './oauth-support';
import type { TestApiKey, TestClient } from './oauth-support';

/**
 * The documentation cannot drift: the OpenAPI document served at /docs/openapi.json is valid
 * OpenAPI 3.1, and every operation and every response it documents is produced by the running
 * app (on a real port, at the document's own server URL) with the documented status, headers and
 * body shape. A response the document does not describe fails, and so does a documented one no
 * scenario produces.
 */

/** Validates a document with @seriousme/openapi-schema-validator (ESM-only, so in a child process). */
function validateOpenApi(doc: unknown): { valid: boolean; errors: unknown; version: string | null } {
  const script = `
    import { Validator } from '@seriousme/openapi-schema-validator';
    let input = '';
    process.stdin.on('data', (c) => (input += c));
    process.stdin.on('end', async () => {
      const validator = new Validator();
      const result = await validator.validate(JSON.parse(input));
      process.stdout.write(JSON.stringify({ valid: result.valid, errors: result.errors ?? null, version: validator.version ?? null }));
    });`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { input: JSON.stringify(doc), cwd: ROOT, encoding: 'utf8' });
  return JSON.parse(out) as { valid: boolean; errors: unknown; version: string | null };
}

/** Inlines `#/components/schemas/...` references so each schema stands alone for Ajv. */
function inline(doc: OpenApiDocument, schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map((s) => inline(doc, s));
  if (!schema || typeof schema !== 'object') return schema;
  const ref = (schema as { $ref?: unknown }).$ref;
  if (typeof ref === 'string') {
    const name = ref.replace('#/components/schemas/', '');
    const target = doc.components.schemas[name];
    if (!target) throw new Error(`unresolved $ref ${ref}`);
    return inline(doc, target);
  }
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, inline(doc, v)]));
}

interface Call {
  headers?: Record<string, string>;
  query?: Record<string, string>;
  form?: Record<string, string>;
  /** A raw body instead of `form` (too large, say); sent as application/x-www-form-urlencoded, or as `contentType`. */
  rawBody?: string;
  /** A JSON body (the leak report). */
  json?: unknown;
  contentType?: string;
}

interface Scenario {
  name: string;
  operationId: string;
  status: number;
  /** Runs before the call (set up a token, exhaust a throttle, move the clock). */
  prepare?: () => Promise<void> | void;
  call: () => Call;
  /** Checks beyond the document (the case's own point: which error code, say). */
  expectBody?: (body: unknown) => void;
}

describe('the OpenAPI document and the running app', () => {
  const server = http.createServer();
  let ctx: ReturnType<typeof createTestContext>;
  let doc: OpenApiDocument;
  let base: string;
  let reader: Agent;
  let client: TestClient;
  let narrowClient: TestClient;
  let otherClient: TestClient;
  let apiKey: TestApiKey;
  let fencedKey: TestApiKey;
  let fencedClient: TestClient;
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  const operations = new Map<string, { path: string; method: string; op: OpenApiOperation }>();
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    ctx = createTestContext({ PUBLIC_URL: `http://127.0.0.1:${port}`, ACCESS_TOKEN_TTL: '900' });
    server.on('request', ctx.app);

    const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    const globex = await seedCompany(ctx, 'Globex', 'admin@globex.test');
    await seedCompany(ctx, 'Operators', 'ops@console.test', { operator: true });
    client = await createClient(ctx, acme.companyId);
    narrowClient = await createClient(ctx, globex.companyId, ['claims:read']);
    otherClient = narrowClient;
    apiKey = await createApiKey(ctx, acme.companyId, 'acme-billing');
    // Allowed only from a documentation range: this test's requests (from 127.0.0.1) are refused.
    const initech = await seedCompany(ctx, 'Initech', 'admin@initech.test');
    fencedKey = await createApiKey(ctx, initech.companyId, 'initech-fenced');
    fencedClient = await createClient(ctx, initech.companyId, ['claims:read']);
    for (const id of [fencedKey.credentialId, fencedClient.credentialId])
      await setAllowlist(credentialsDeps(ctx), initech.companyId, id, '203.0.113.0/24', SYSTEM_ACTOR);

    // The document as a reader gets it: request access, have it granted, fetch openapi.json.
    reader = await signIn(ctx.app, 'admin@acme.test');
    const operator = await signIn(ctx.app, 'ops@console.test');
    await reader.post('/admin/api/docs-access').type('form').send({ _csrf: reader.csrf, email: 'admin@acme.test' });
    const [{ id: requestId }] = await ctx.query<{ id: number }>('SELECT id FROM access_requests');
    await operator.post(`/operator/access-requests/${requestId}/grant`).type('form').send({ _csrf: operator.csrf });
    const served = await reader.get('/docs/openapi.json');
    expect(served.status).toBe(200);
    doc = served.body as OpenApiDocument;
    base = doc.servers[0].url;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) operations.set(op.operationId, { path, method, op });
    }
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await ctx.close();
  });

  it('is valid OpenAPI 3.1 (checked against the official schema)', () => {
    const result = validateOpenApi(doc);
    expect(result.errors).toBeNull();
    expect(result).toMatchObject({ valid: true, version: '3.1' });
  });

  it('would be caught if it were not (the validator is not a rubber stamp)', () => {
    const broken = { ...doc, paths: { '/oauth/token': { post: { responses: { '200': {} } } } } };
    expect(validateOpenApi(broken).valid).toBe(false);
  });

  it('describes this deployment: its URL, token lifetime and scope catalog', async () => {
    expect(base).toBe(ctx.config.publicUrl);
    expect(doc.components.securitySchemes.oauth2).toEqual(
      expect.objectContaining({ flows: { clientCredentials: expect.objectContaining({ tokenUrl: `${base}/oauth/token` }) } }),
    );
    const scopes = (await ctx.query<{ name: string }>('SELECT name FROM scopes ORDER BY name')).map((s) => s.name);
    expect(Object.keys((doc.components.securitySchemes.oauth2 as { flows: { clientCredentials: { scopes: object } } }).flows.clientCredentials.scopes)).toEqual(
      scopes,
    );
    expect(JSON.stringify(doc.components.schemas.TokenResponse)).toContain('900 on this deployment');
    expect([...operations.keys()].sort()).toEqual([
      'getJwks',
      'getMe',
      'getServerMetadata',
      'introspectToken',
      'reportLeakedCredentials',
      'requestToken',
      'revokeToken',
      'verifyRequest',
    ]);
  });

  it('gives examples that match their own schemas', () => {
    const problems: string[] = [];
    const visit = (schema: unknown, where: string): void => {
      if (!schema || typeof schema !== 'object') return;
      const examples = (schema as { examples?: unknown }).examples;
      if (Array.isArray(examples)) {
        const validate = ajv.compile(inline(doc, schema) as JsonSchema);
        for (const example of examples) if (!validate(example)) problems.push(`${where}: ${ajv.errorsText(validate.errors)}`);
      }
      for (const [key, value] of Object.entries(schema)) if (key !== 'examples') visit(value, `${where}/${key}`);
    };
    visit(doc.components.schemas, '#/components/schemas');
    for (const { op } of operations.values()) {
      for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
        if (media.example === undefined) continue;
        const validate = ajv.compile(inline(doc, media.schema) as JsonSchema);
        if (!validate(media.example)) problems.push(`${op.operationId} request ${type}: ${ajv.errorsText(validate.errors)}`);
      }
    }
    expect(problems).toEqual([]);
  });

  // ---------------------------------------------------------------------------------------
  // Scenarios: each one produces one documented response of one operation.

  const basicFor = (c: TestClient) => ({ Authorization: clientBasic(c.clientId, c.secret) });
  const apiBasic = (username: string, key: string) => ({ Authorization: `Basic ${Buffer.from(`${username}:${key}`).toString('base64')}` });
  const getToken = async (c: TestClient, name: string) => {
    const res = await fetch(`${base}/oauth/token`, {
      method: 'POST',
      headers: { ...basicFor(c), 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    if (res.status !== 200) throw new Error(`token: ${res.status}`);
    tokens[name] = ((await res.json()) as { access_token: string }).access_token;
  };
  /** A fresh failure window, then enough failures from this address (30, all tests share it) that its next call is throttled. */
  const exhaust = (send: () => Promise<unknown>) => async () => {
    ctx.clock.advance(2 * MINUTE);
    for (let i = 0; i < 30; i++) await send();
  };
  const afterThrottle = () => ctx.clock.advance(2 * MINUTE);
  const post = (path: string, headers: Record<string, string>, body: string) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { ...headers, 'Content-Type': 'application/x-www-form-urlencoded' }, body });
  const errorIs = (code: string) => (body: unknown) => expect(body).toMatchObject({ error: code });
  const tooLarge = `token=${'a'.repeat(9000)}`;

  const scenarios: Scenario[] = [
    { name: 'metadata', operationId: 'getServerMetadata', status: 200, call: () => ({}) },
    { name: 'the key set', operationId: 'getJwks', status: 200, call: () => ({}) },

    {
      name: 'a token with client_secret_basic',
      operationId: 'requestToken',
      status: 200,
      call: () => ({ headers: basicFor(client), form: { grant_type: 'client_credentials' } }),
    },
    {
      name: 'a narrowed token with client_secret_post',
      operationId: 'requestToken',
      status: 200,
      call: () => ({ form: { grant_type: 'client_credentials', scope: 'claims:read', client_id: client.clientId, client_secret: client.secret } }),
      expectBody: (body) => expect(body).toMatchObject({ scope: 'claims:read', expires_in: 900 }),
    },
    {
      name: 'another grant type',
      operationId: 'requestToken',
      status: 400,
      call: () => ({ headers: basicFor(client), form: { grant_type: 'password' } }),
      expectBody: errorIs('unsupported_grant_type'),
    },
    {
      name: 'a scope the client lacks',
      operationId: 'requestToken',
      status: 400,
      call: () => ({ headers: basicFor(narrowClient), form: { grant_type: 'client_credentials', scope: 'claims:write' } }),
      expectBody: errorIs('invalid_scope'),
    },
    {
      name: 'no grant_type',
      operationId: 'requestToken',
      status: 400,
      call: () => ({ headers: basicFor(client), form: {} }),
      expectBody: errorIs('invalid_request'),
    },
    {
      name: 'a wrong secret',
      operationId: 'requestToken',
      status: 401,
      call: () => ({ headers: basicFor({ ...client, secret: `${client.secret}x` }), form: { grant_type: 'client_credentials' } }),
    },
    { name: 'no client authentication', operationId: 'requestToken', status: 401, call: () => ({ form: { grant_type: 'client_credentials' } }) },
    { name: 'a body over 8 KiB', operationId: 'requestToken', status: 413, call: () => ({ headers: basicFor(client), rawBody: tooLarge }) },
    {
      name: 'too many failures from this address',
      operationId: 'requestToken',
      status: 429,
      prepare: exhaust(() => post('/oauth/token', basicFor({ ...client, secret: 'wrong' }), 'grant_type=client_credentials')),
      call: () => ({ headers: basicFor(client), form: { grant_type: 'client_credentials' } }),
    },

    {
      name: 'an active token of the caller’s company',
      operationId: 'introspectToken',
      status: 200,
      prepare: async () => {
        afterThrottle();
        await getToken(client, 'own');
      },
      call: () => ({ headers: basicFor(client), form: { token: tokens.own } }),
      expectBody: (body) => expect(body).toMatchObject({ active: true, client_id: client.clientId, token_type: 'Bearer' }),
    },
    {
      name: 'an unknown token',
      operationId: 'introspectToken',
      status: 200,
      call: () => ({ headers: basicFor(client), form: { token: 'not-a-token' } }),
      expectBody: (b) => expect(b).toEqual({ active: false }),
    },
    { name: 'no token field', operationId: 'introspectToken', status: 400, call: () => ({ headers: basicFor(client), form: {} }) },
    {
      name: 'a wrong secret',
      operationId: 'introspectToken',
      status: 401,
      call: () => ({ form: { token: 'x', client_id: client.clientId, client_secret: 'wrong' } }),
    },
    { name: 'a body over 8 KiB', operationId: 'introspectToken', status: 413, call: () => ({ headers: basicFor(client), rawBody: tooLarge }) },
    {
      name: 'too many failures from this address',
      operationId: 'introspectToken',
      status: 429,
      prepare: exhaust(() => post('/oauth/introspect', basicFor({ ...client, secret: 'wrong' }), 'token=x')),
      call: () => ({ headers: basicFor(client), form: { token: 'x' } }),
    },

    {
      name: 'the client’s own token',
      operationId: 'revokeToken',
      status: 200,
      prepare: async () => {
        afterThrottle();
        await getToken(client, 'toRevoke');
      },
      call: () => ({ headers: basicFor(client), form: { token: tokens.toRevoke, token_type_hint: 'access_token' } }),
    },
    { name: 'an unknown token', operationId: 'revokeToken', status: 200, call: () => ({ headers: basicFor(client), form: { token: 'not-a-token' } }) },
    {
      name: 'no token field',
      operationId: 'revokeToken',
      status: 400,
      call: () => ({ headers: basicFor(client), form: {} }),
      expectBody: errorIs('invalid_request'),
    },
    {
      name: 'another client’s token',
      operationId: 'revokeToken',
      status: 400,
      prepare: () => getToken(otherClient, 'foreign'),
      call: () => ({ headers: basicFor(client), form: { token: tokens.foreign } }),
      expectBody: errorIs('unauthorized_client'),
    },
    {
      name: 'a wrong secret',
      operationId: 'revokeToken',
      status: 401,
      call: () => ({ headers: basicFor({ ...client, secret: 'wrong' }), form: { token: 'x' } }),
    },
    { name: 'a body over 8 KiB', operationId: 'revokeToken', status: 413, call: () => ({ headers: basicFor(client), rawBody: tooLarge }) },
    {
      name: 'too many failures from this address',
      operationId: 'revokeToken',
      status: 429,
      prepare: exhaust(() => post('/oauth/revoke', basicFor({ ...client, secret: 'wrong' }), 'token=x')),
      call: () => ({ headers: basicFor(client), form: { token: 'x' } }),
    },

    {
      name: 'an API key caller',
      operationId: 'getMe',
      status: 200,
      prepare: afterThrottle,
      call: () => ({ headers: apiBasic(apiKey.username, apiKey.key) }),
      expectBody: (b) => expect(b).toMatchObject({ credential: { kind: 'basic', identifier: 'acme-billing' } }),
    },
    {
      name: 'a Bearer caller',
      operationId: 'getMe',
      status: 200,
      prepare: () => getToken(client, 'me'),
      call: () => ({ headers: { Authorization: `Bearer ${tokens.me}` } }),
      expectBody: (b) => expect(b).toMatchObject({ company: { name: 'Acme' }, credential: { kind: 'oauth', identifier: client.clientId } }),
    },
    { name: 'no credentials', operationId: 'getMe', status: 401, call: () => ({}), expectBody: errorIs('unauthorized') },
    {
      name: 'a revoked token',
      operationId: 'getMe',
      status: 401,
      call: () => ({ headers: { Authorization: `Bearer ${tokens.toRevoke}` } }),
      expectBody: errorIs('invalid_token'),
    },
    {
      name: 'too many failures from this address',
      operationId: 'getMe',
      status: 429,
      prepare: exhaust(() => fetch(`${base}/api/v1/me`, { headers: apiBasic(apiKey.username, 'wrong') })),
      call: () => ({ headers: apiBasic(apiKey.username, apiKey.key) }),
    },

    {
      name: 'a caller holding the required scope',
      operationId: 'verifyRequest',
      status: 200,
      prepare: afterThrottle,
      call: () => ({ headers: apiBasic(apiKey.username, apiKey.key), query: { scope: 'claims:read documents:read' } }),
    },
    {
      name: 'a malformed scope list',
      operationId: 'verifyRequest',
      status: 400,
      call: () => ({ headers: apiBasic(apiKey.username, apiKey.key), query: { scope: 'claims"read' } }),
    },
    { name: 'no credentials', operationId: 'verifyRequest', status: 401, call: () => ({ query: { scope: 'claims:read' } }) },
    {
      name: 'a throttled caller (401 with Retry-After, for proxies)',
      operationId: 'verifyRequest',
      status: 401,
      prepare: exhaust(() => fetch(`${base}/auth/verify`, { headers: apiBasic(apiKey.username, 'wrong') })),
      call: () => ({ headers: apiBasic(apiKey.username, apiKey.key) }),
      expectBody: errorIs('too_many_requests'),
    },
    {
      name: 'a caller without the required scope',
      operationId: 'verifyRequest',
      status: 403,
      prepare: async () => {
        afterThrottle();
        await getToken(narrowClient, 'narrow');
      },
      call: () => ({ headers: { Authorization: `Bearer ${tokens.narrow}` }, query: { scope: 'claims:write' } }),
      expectBody: errorIs('insufficient_scope'),
    },
    {
      name: 'an API key from an address outside its IP allowlist',
      operationId: 'verifyRequest',
      status: 403,
      call: () => ({ headers: apiBasic(fencedKey.username, fencedKey.key) }),
      expectBody: errorIs('address_not_allowed'),
    },
    {
      name: 'an API key from an address outside its IP allowlist',
      operationId: 'getMe',
      status: 403,
      call: () => ({ headers: apiBasic(fencedKey.username, fencedKey.key) }),
      expectBody: errorIs('address_not_allowed'),
    },
    {
      name: 'a client from an address outside its IP allowlist',
      operationId: 'requestToken',
      status: 401,
      call: () => ({ headers: basicFor(fencedClient), form: { grant_type: 'client_credentials' } }),
      expectBody: (b) => expect(b).toMatchObject({ error: 'invalid_client', error_description: expect.stringContaining('not in its IP allowlist') }),
    },

    {
      name: 'a report with one of our keys, a mistyped one and a foreign string',
      operationId: 'reportLeakedCredentials',
      status: 202,
      prepare: afterThrottle,
      call: () => ({ json: { credentials: [fencedKey.key, `${fencedKey.key.slice(0, -1)}x`, 'ghp_notours'], url: 'https://example.com/leak' } }),
    },
    { name: 'no credentials member', operationId: 'reportLeakedCredentials', status: 400, call: () => ({ json: { url: 'https://example.com/' } }) },
    {
      name: 'a body over 64 KiB',
      operationId: 'reportLeakedCredentials',
      status: 413,
      call: () => ({ rawBody: JSON.stringify({ credentials: ['x'.repeat(70_000)] }), contentType: 'application/json' }),
    },
    { name: 'a form instead of JSON', operationId: 'reportLeakedCredentials', status: 415, call: () => ({ form: { credentials: 'cxk_x' } }) },
    {
      name: 'too many reports from this address',
      operationId: 'reportLeakedCredentials',
      status: 429,
      prepare: async () => {
        afterThrottle();
        for (let i = 0; i < 10; i++)
          await fetch(`${base}/api/v1/credentials/leaked`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      },
      call: () => ({ json: { credentials: ['cxk_x'] } }),
    },
  ];

  async function send(s: Scenario): Promise<{ status: number; headers: Headers; text: string }> {
    const target = operations.get(s.operationId);
    if (!target) throw new Error(`${s.operationId} is not in the document`);
    const c = s.call();
    const url = new URL(`${base}${target.path}`);
    for (const [k, v] of Object.entries(c.query ?? {})) url.searchParams.set(k, v);
    const body = c.json !== undefined ? JSON.stringify(c.json) : (c.rawBody ?? (c.form ? new URLSearchParams(c.form).toString() : undefined));
    const headers: Record<string, string> = { ...c.headers };
    if (body !== undefined) headers['Content-Type'] = c.contentType ?? (c.json !== undefined ? 'application/json' : 'application/x-www-form-urlencoded');
    const res = await fetch(url, { method: target.method.toUpperCase(), headers, body });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  /** Every way the response differs from the document (empty when it matches). */
  function differences(s: Scenario, res: { status: number; headers: Headers; text: string }): string[] {
    const { op } = operations.get(s.operationId)!;
    const problems: string[] = [];
    const documented = op.responses[String(res.status)];
    if (res.status !== s.status) problems.push(`status ${res.status}, expected ${s.status}: ${res.text.slice(0, 200)}`);
    if (!documented) return [...problems, `status ${res.status} is not documented for ${s.operationId}`];
    for (const [name, h] of Object.entries(documented.headers ?? {})) {
      const value = res.headers.get(name);
      if (value === null) {
        if (h.required) problems.push(`missing header ${name}`);
        continue;
      }
      const validateHeader = ajv.compile(inline(doc, h.schema) as JsonSchema);
      if (!validateHeader(value)) problems.push(`header ${name}: ${JSON.stringify(value)} ${ajv.errorsText(validateHeader.errors)}`);
    }
    if (!documented.content) {
      if (res.text !== '') problems.push(`documented without a body, got ${res.text.slice(0, 100)}`);
      return problems;
    }
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0].trim();
    const media = documented.content[mediaType];
    if (!media) return [...problems, `content type ${mediaType || '(none)'} is not documented (${Object.keys(documented.content).join(', ')})`];
    let body: unknown;
    try {
      body = JSON.parse(res.text);
    } catch {
      return [...problems, `body is not JSON: ${res.text.slice(0, 100)}`];
    }
    const validateBody = ajv.compile(inline(doc, media.schema) as JsonSchema);
    if (!validateBody(body)) problems.push(`body ${JSON.stringify(body).slice(0, 300)}: ${ajv.errorsText(validateBody.errors)}`);
    if (media.example !== undefined && !validateBody(media.example))
      problems.push(`the documented example does not match its own schema: ${ajv.errorsText(validateBody.errors)}`);
    return problems;
  }

  /** What a client sends for a success is what the document says it may send. */
  function requestDifferences(s: Scenario): string[] {
    const { op } = operations.get(s.operationId)!;
    const c = s.call();
    const problems: string[] = [];
    if (c.form && s.status < 300) {
      const media = op.requestBody?.content['application/x-www-form-urlencoded'];
      if (!media) return ['the operation documents no form body'];
      const validateForm = ajv.compile(inline(doc, media.schema) as JsonSchema);
      if (!validateForm(c.form)) problems.push(`the form sent is not the documented one: ${ajv.errorsText(validateForm.errors)}`);
    }
    if (c.json !== undefined && s.status < 300) {
      const media = op.requestBody?.content['application/json'];
      if (!media) return ['the operation documents no JSON body'];
      const validateJson = ajv.compile(inline(doc, media.schema) as JsonSchema);
      if (!validateJson(c.json)) problems.push(`the JSON sent is not the documented one: ${ajv.errorsText(validateJson.errors)}`);
    }
    for (const name of Object.keys(c.query ?? {})) {
      if (!(op.parameters ?? []).some((p) => p.in === 'query' && p.name === name)) problems.push(`query parameter ${name} is not documented`);
    }
    return problems;
  }

  it.each(scenarios.map((s) => [`${s.operationId} ${s.status}: ${s.name}`, s] as const))('%s', async (_title, s) => {
    await s.prepare?.();
    const res = await send(s);
    expect([...requestDifferences(s), ...differences(s, res)]).toEqual([]);
    if (s.expectBody) s.expectBody(JSON.parse(res.text));
  });

  it('produces every documented response of every operation in some scenario', () => {
    const documented = [...operations.values()].flatMap(({ op }) => Object.keys(op.responses).map((status) => `${op.operationId} ${status}`));
    const produced = new Set(scenarios.map((s) => `${s.operationId} ${s.status}`));
    expect(documented.filter((pair) => !produced.has(pair))).toEqual([]);
  });
});
