import http from 'node:http';
import { Writable } from 'node:stream';
import request from 'supertest';
import { createLogger } from '../src/log';
import { createFastPath } from '../src/platform/fast-path';
import type { FastRoute } from '../src/platform/fast-path';
import { HttpError } from '../src/http/errors';
import { createTestContext, seedCompany } from './helpers';
import type { TestContext } from './helpers';
import { createApiKey } from './oauth-support';

/** The headers every answer of the app carries (src/http/security-headers.ts). */
const SECURITY_HEADERS = [
  'content-security-policy',
  'cross-origin-opener-policy',
  'cross-origin-resource-policy',
  'origin-agent-cluster',
  'referrer-policy',
  'strict-transport-security',
  'x-content-type-options',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-frame-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
  'permissions-policy',
];

const securityHeadersOf = (headers: Record<string, string>) => Object.fromEntries(SECURITY_HEADERS.map((name) => [name, headers[name]]));

describe('the platform fast path in front of Express (decision 0013)', () => {
  let ctx: TestContext;
  let basic: string;
  beforeAll(async () => {
    ctx = createTestContext();
    const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    const key = await createApiKey(ctx, acme.companyId, 'fast-path-user');
    basic = `Basic ${Buffer.from(`${key.username}:${key.key}`).toString('base64')}`;
  });
  afterAll(() => ctx.close());

  it.each([
    ['GET', '/api/v1/me', 'with an API key', 200],
    ['GET', '/api/v1/me', 'without credentials', 401],
    ['GET', '/auth/verify', 'with an API key', 200],
    ['POST', '/oauth/token', 'without client authentication', 401],
    ['GET', '/.well-known/jwks.json', '', 200],
    ['GET', '/.well-known/oauth-authorization-server', '', 200],
  ])('answers %s %s %s (%i) with exactly the security headers of the console pages', async (method, path, how, status) => {
    const page = await request(ctx.app).get('/sign-in');
    const call = method === 'GET' ? request(ctx.app).get(path) : request(ctx.app).post(path).type('form').send('grant_type=client_credentials');
    const res = await (how === 'with an API key' ? call.set('Authorization', basic) : call);
    expect(res.status).toBe(status);
    expect(securityHeadersOf(res.headers as Record<string, string>)).toEqual(securityHeadersOf(page.headers as Record<string, string>));
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('sends HSTS on the fast path too when PUBLIC_URL is https', async () => {
    const https = createTestContext({ PUBLIC_URL: 'https://console.example.test' });
    try {
      const res = await request(https.app).get('/api/v1/me');
      expect(res.status).toBe(401);
      expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      expect(res.headers['content-security-policy']).toContain('upgrade-insecure-requests');
    } finally {
      await https.close();
    }
  });

  it('matches paths as Express does: without case, with one trailing slash, whatever the query', async () => {
    for (const path of ['/API/V1/ME', '/api/v1/me/', '/api/v1/me?x=1']) {
      const res = await request(ctx.app).get(path).set('Authorization', basic);
      expect(res.status).toBe(200);
      expect((res.body as { credential: { identifier: string } }).credential.identifier).toBe('fast-path-user');
    }
  });

  it('answers HEAD like GET, headers and length without a body', async () => {
    const get = await request(ctx.app).get('/api/v1/me').set('Authorization', basic);
    const head = await request(ctx.app).head('/api/v1/me').set('Authorization', basic);
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    expect(head.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(head.text).toBeUndefined();
  });

  it('leaves wrong methods and other paths to Express: 405 with Allow, the console checks, 404 in JSON', async () => {
    const token = await request(ctx.app).get('/oauth/token');
    expect(token.status).toBe(405);
    expect(token.headers.allow).toBe('POST');
    const jwks = await request(ctx.app).post('/.well-known/jwks.json');
    expect(jwks.status).toBe(405);
    expect(jwks.headers.allow).toBe('GET, HEAD');
    // No POST route: it meets the console's same-origin and CSRF checks, as it always did.
    const me = await request(ctx.app).post('/api/v1/me').set('Authorization', basic);
    expect(me.status).toBe(403);
    expect((me.body as { credential?: unknown }).credential).toBeUndefined();
    const other = await request(ctx.app).get('/api/v1/other').set('Authorization', basic);
    expect(other.status).toBe(404);
    expect((other.body as { error: string }).error).toBe('not_found');
  });
});

describe('createFastPath', () => {
  const logged: string[] = [];
  const logger = createLogger(
    'error',
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        logged.push(chunk.toString());
        cb();
      },
    }),
  );

  /** A server whose only routes are `routes`; what the fast path does not take is answered 418 by "Express". */
  async function serve(
    routes: Record<string, FastRoute>,
    ready: Promise<void> = Promise.resolve(),
    extra: { trustProxy?: () => boolean; observe?: (name: string, error: unknown, seconds: number) => void } = {},
  ) {
    const fast = createFastPath({
      routes,
      headers: ['X-Common', 'yes'],
      trustProxy: extra.trustProxy ?? (() => false),
      ready,
      logger,
      observe: extra.observe,
    });
    const server = http.createServer((req, res) => {
      if (!fast(req, res)) res.writeHead(418).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }

  it('answers an unexpected error with a 500 that names nothing, and logs it', async () => {
    const s = await serve({
      '/boom': {
        methods: ['GET'],
        handler: () => Promise.reject(new Error('secret detail of the failure')),
      },
    });
    try {
      const res = await fetch(`${s.url}/boom`);
      expect(res.status).toBe(500);
      expect(res.headers.get('x-common')).toBe('yes');
      expect(res.headers.get('cache-control')).toBe('no-store');
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({ error: 'internal_error', error_description: expect.stringMatching(/^Something went wrong on our side/) });
      expect(text).not.toContain('secret detail');
      expect(logged.join('')).toContain('secret detail of the failure');
    } finally {
      await s.close();
    }
  });

  it('renders an HttpError with its status and headers, and hands other paths and methods on', async () => {
    const s = await serve({
      '/refuse': { methods: ['POST'], handler: () => Promise.reject(new HttpError(429, 'too_many_requests', 'Wait.', { 'Retry-After': '7' })) },
    });
    try {
      const res = await fetch(`${s.url}/refuse`, { method: 'POST' });
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('7');
      expect(await res.json()).toEqual({ error: 'too_many_requests', error_description: 'Wait.' });
      expect((await fetch(`${s.url}/refuse`)).status).toBe(418); // GET is not its method
      expect((await fetch(`${s.url}/elsewhere`)).status).toBe(418);
    } finally {
      await s.close();
    }
  });

  it('tells observe of each named answer, ok or failed, and a failing observe changes no answer', async () => {
    const seen: [string, unknown][] = [];
    const ok = { methods: ['GET'], name: 'ok', handler: ({ res }: { res: http.ServerResponse }) => Promise.resolve(void res.writeHead(204).end()) };
    const refused = { methods: ['GET'], name: 'refused', handler: () => Promise.reject(new HttpError(401, 'unauthorized', 'No.')) };
    const s = await serve({ '/ok': ok, '/refused': refused }, undefined, {
      observe: (name, error) => {
        seen.push([name, error]);
        throw new Error('observer broke');
      },
    });
    try {
      expect((await fetch(`${s.url}/ok`)).status).toBe(204);
      expect((await fetch(`${s.url}/refused`)).status).toBe(401);
      expect(seen.map(([name, error]) => [name, error === undefined ? 'ok' : (error as HttpError).status])).toEqual([
        ['ok', 'ok'],
        ['refused', 401],
      ]);
      expect(logged.join('')).toContain('observer broke');
    } finally {
      await s.close();
    }
  });

  it('answers 500 when working out the client address throws, and the server keeps serving', async () => {
    let throwing = true;
    const s = await serve({ '/ok': { methods: ['GET'], handler: ({ res }) => Promise.resolve(void res.writeHead(204).end()) } }, undefined, {
      trustProxy: () => {
        if (throwing) throw new Error('address check broke');
        return false;
      },
    });
    try {
      const res = await fetch(`${s.url}/ok`, { headers: { 'X-Forwarded-For': '203.0.113.9' } });
      expect(res.status).toBe(500);
      expect(await res.text()).not.toContain('address check broke');
      throwing = false;
      expect((await fetch(`${s.url}/ok`)).status).toBe(204);
    } finally {
      await s.close();
    }
  });

  it('holds requests until the start-up work is done', async () => {
    let start!: () => void;
    const ready = new Promise<void>((resolve) => (start = resolve));
    let served = 0;
    const s = await serve(
      {
        '/ok': {
          methods: ['GET'],
          handler: ({ res }) => {
            served++;
            res.writeHead(204).end();
            return Promise.resolve();
          },
        },
      },
      ready,
    );
    try {
      const pending = fetch(`${s.url}/ok`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(served).toBe(0);
      start();
      expect((await pending).status).toBe(204);
      expect(served).toBe(1);
    } finally {
      await s.close();
    }
  });
});
