import request from 'supertest';
import { createTestContext, seedCompany, signIn } from './helpers';
import type { TestContext } from './helpers';

describe('security headers', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = createTestContext();
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
  });
  afterAll(() => ctx.close());

  it.each(['/sign-in', '/audit', '/no-such-page', '/healthz', '/css/app.css'])('are on %s', async (path) => {
    const res = await request(ctx.app).get(path);
    const csp = res.headers['content-security-policy'];
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("base-uri 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBeDefined();
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(res.headers['permissions-policy']).toContain('camera=()');
    expect(res.headers['x-powered-by']).toBeUndefined();
    // Plain http: no HSTS (it would pin browsers to https the deployment does not serve).
    expect(res.headers['strict-transport-security']).toBeUndefined();
  });

  it('send HSTS and upgrade-insecure-requests when PUBLIC_URL is https', async () => {
    const https = createTestContext({ PUBLIC_URL: 'https://console.example.test' });
    try {
      const res = await request(https.app).get('/sign-in');
      expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      expect(res.headers['content-security-policy']).toContain('upgrade-insecure-requests');
    } finally {
      await https.close();
    }
  });

  it('pages carry no inline script or style', async () => {
    const agent = await signIn(ctx.app, 'admin@acme.test');
    const page = await agent.get('/audit');
    expect(page.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page.text).not.toMatch(/<style|\sstyle="|\son[a-z]+="/);
  });
});

describe('the 404 page', () => {
  let ctx: TestContext;
  beforeAll(() => {
    ctx = createTestContext();
  });
  afterAll(() => ctx.close());

  it('is a kind HTML page for the console', async () => {
    const res = await request(ctx.app).get('/no/such/page');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('<h1>Not found</h1>');
    expect(res.text).toContain('We could not find that page.');
    expect(res.text).toContain('<a href="/">Back to the console</a>');
  });

  it('is a fragment for htmx, swapped into the flash region', async () => {
    const res = await request(ctx.app).get('/no/such/page').set('HX-Request', 'true');
    expect(res.status).toBe(404);
    expect(res.headers.vary).toMatch(/HX-Request/);
    expect(res.headers['hx-retarget']).toBe('#flash');
    expect(res.text).not.toContain('<html');
    expect(res.text).toContain('We could not find that page.');
  });

  it.each(['/api/v1/nothing', '/oauth/nothing', '/.well-known/nothing', '/thing.json'])('is JSON on the API path %s', async (path) => {
    const res = await request(ctx.app).get(path);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body).toEqual({ error: 'not_found', error_description: 'We could not find that page.' });
  });

  it('never echoes the requested path as markup', async () => {
    const res = await request(ctx.app).get('/%3Cscript%3Ealert(1)%3C%2Fscript%3E');
    expect(res.status).toBe(404);
    expect(res.text).not.toContain('<script>alert(1)');
  });
});

describe('request bodies', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = createTestContext();
    await seedCompany(ctx, 'Operators', 'ops@example.test', { operator: true });
  });
  afterAll(() => ctx.close());

  it('over 32 kB get a kind 413 and change nothing', async () => {
    const agent = await signIn(ctx.app, 'ops@example.test');
    const res = await agent
      .post('/operator/companies')
      .type('form')
      .send({ _csrf: agent.csrf, name: 'x'.repeat(40 * 1024) });
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('What you sent is too large (the limit is 32 kB).');
    expect(await ctx.query('SELECT COUNT(*) AS n FROM companies')).toEqual([{ n: 1 }]);
  });

  it('over 32 kB of JSON get a JSON 413 on API paths', async () => {
    const res = await request(ctx.app)
      .post('/api/v1/anything')
      .send({ blob: 'x'.repeat(40 * 1024) });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: 'payload_too_large', error_description: 'What you sent is too large (the limit is 32 kB).' });
  });

  it('with too many fields get a kind 413', async () => {
    const agent = await signIn(ctx.app, 'ops@example.test');
    const fields = Array.from({ length: 150 }, (_, i) => `f${i}=1`).join('&');
    const res = await agent
      .post('/operator/companies')
      .type('form')
      .send(`_csrf=${encodeURIComponent(agent.csrf)}&name=Globex&${fields}`);
    expect(res.status).toBe(413);
    expect(res.text).toContain('The form has too many fields.');
  });

  it('that are not valid JSON get a 400 naming the problem', async () => {
    const res = await request(ctx.app).post('/api/v1/anything').set('Content-Type', 'application/json').send('{"broken": ');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'malformed_body', error_description: 'The request body could not be read: it is not valid JSON.' });
  });
});
