import request from 'supertest';
import { createApp } from '../src/app';
import { closeApp } from '../src/lifecycle';
import { createLogger } from '../src/log';
import { HOUR, MINUTE } from '../src/clock';
import { createTestContext, seedCompany, signIn } from './helpers';
import { createClient, decodeJwtPart, obtainToken, started } from './oauth-support';
import type { TestClient } from './oauth-support';

interface Jwk {
  kid: string;
  kty: string;
  crv: string;
  x: string;
  y: string;
  alg: string;
  use: string;
  d?: string;
}

interface JwkSet {
  keys: Jwk[];
}

describe('signing keys and GET /.well-known/jwks.json', () => {
  const ctx = createTestContext();
  let client: TestClient;
  beforeAll(async () => {
    client = await createClient(ctx, (await seedCompany(ctx, 'Acme', 'admin@acme.test', { operator: true })).companyId);
    await seedCompany(ctx, 'Globex', 'admin@globex.test');
  });
  afterAll(() => ctx.close());

  const jwks = async () => ((await request(ctx.app).get('/.well-known/jwks.json')).body as JwkSet).keys;
  const me = (token: string) => request(ctx.app).get('/api/v1/me').set('Authorization', `Bearer ${token}`);

  it('creates a key on first start and publishes only its public half', async () => {
    const res = await request(ctx.app).get('/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/jwk-set\+json/);
    expect(res.headers['cache-control']).toBe('public, max-age=60');
    const { keys } = res.body as JwkSet;
    expect(keys).toHaveLength(1);
    expect(keys[0]).toEqual({ kty: 'EC', crv: 'P-256', x: expect.any(String), y: expect.any(String), kid: expect.any(String), alg: 'ES256', use: 'sig' });
    expect(keys[0].d).toBeUndefined();
    const token = await obtainToken(ctx.app, client);
    expect(decodeJwtPart(token, 0).kid).toBe(keys[0].kid);
  });

  it('keeps one key across restarts of the app on the same database', async () => {
    const again = createApp({ config: ctx.config, database: ctx.database, clock: ctx.clock, logger: createLogger('silent') });
    const res = await request(again).get('/.well-known/jwks.json');
    await closeApp(again);
    expect((res.body as JwkSet).keys).toEqual(await jwks());
  });

  it('rotates from the operator page; the retired key stays published until its last token has expired', async () => {
    const before = await jwks();
    const oldToken = await obtainToken(ctx.app, client);
    const operator = await signIn(ctx.app, 'admin@acme.test');

    const page = await operator.get('/operator/signing-keys');
    expect(page.status).toBe(200);
    expect(page.text).toContain(before[0].kid);
    expect(page.text).toContain('Rotate signing key');

    const rotated = await operator.post('/operator/signing-keys/rotate').type('form').send({ _csrf: operator.csrf });
    expect(rotated.status).toBe(303);
    expect(rotated.headers.location).toBe('/operator/signing-keys');
    const after = await operator.get('/operator/signing-keys');
    expect(after.text).toContain('is active. The previous key stays in the JWKS until');

    const keys = await jwks();
    expect(keys.map((k) => k.kid)).toEqual(expect.arrayContaining([before[0].kid]));
    expect(keys).toHaveLength(2);
    const newToken = await obtainToken(ctx.app, client);
    expect(decodeJwtPart(newToken, 0).kid).not.toBe(before[0].kid);
    expect(keys.map((k) => k.kid)).toContain(decodeJwtPart(newToken, 0).kid);
    expect((await me(oldToken)).status).toBe(200);
    expect((await me(newToken)).status).toBe(200);

    // The old key's last token expires an hour after rotation; the key leaves the JWKS a little later.
    ctx.clock.advance(HOUR);
    expect((await me(oldToken)).status).toBe(401);
    expect(await jwks()).toHaveLength(2);
    ctx.clock.advance(5 * MINUTE);
    const remaining = await jwks();
    expect(remaining.map((k) => k.kid)).toEqual([decodeJwtPart(newToken, 0).kid]);

    const [audit] = await ctx.query<{ actor: string; details: string }>("SELECT actor, details FROM audit_log WHERE action = 'signing_key.rotate'");
    expect(audit.actor).toBe('admin@acme.test');
    expect(JSON.parse(audit.details)).toMatchObject({ previousKid: before[0].kid });
  });

  it('erases the private half of a retired key', async () => {
    const rows = await ctx.query<{ status: string; erased: number }>(
      'SELECT status, CASE WHEN private_pem IS NULL THEN 1 ELSE 0 END AS erased FROM signing_keys',
    );
    expect(rows.filter((r) => r.status === 'retired').every((r) => r.erased === 1)).toBe(true);
    expect(rows.filter((r) => r.status === 'active')).toEqual([{ status: 'active', erased: 0 }]);
  });

  it('rotates with htmx: HX-Redirect back to the page', async () => {
    const operator = await signIn(ctx.app, 'admin@acme.test');
    const fragment = await operator.get('/operator/signing-keys').set('HX-Request', 'true');
    expect(fragment.status).toBe(200);
    expect(fragment.text).not.toContain('<html');
    expect(fragment.text).toContain('id="signing-keys"');
    const res = await operator.post('/operator/signing-keys/rotate').set('HX-Request', 'true').set('X-CSRF-Token', operator.csrf);
    expect(res.status).toBe(204);
    expect(res.headers['hx-redirect']).toBe('/operator/signing-keys');
  });

  it('is not for administrators: 404', async () => {
    const admin = await signIn(ctx.app, 'admin@globex.test');
    expect((await admin.get('/operator/signing-keys')).status).toBe(404);
    expect((await admin.post('/operator/signing-keys/rotate').type('form').send({ _csrf: admin.csrf })).status).toBe(404);
  });

  it('refuses a rotation without the CSRF token', async () => {
    const operator = await signIn(ctx.app, 'admin@acme.test');
    const kids = (await jwks()).map((k) => k.kid);
    const res = await operator.post('/operator/signing-keys/rotate').type('form').send({});
    expect(res.status).toBe(403);
    expect((await jwks()).map((k) => k.kid)).toEqual(kids);
  });
});

describe('signing keys at rest', () => {
  it('stores the private key sealed under SESSION_SECRET, never as a PEM', async () => {
    const ctx = createTestContext();
    try {
      await started(ctx.app);
      const stored = (await ctx.value<string>("SELECT private_pem FROM signing_keys WHERE status = 'active'"))!;
      expect(stored.startsWith('sealed:v1:')).toBe(true);
      expect(stored).not.toContain('PRIVATE KEY');
    } finally {
      await ctx.close();
    }
  });

  it('replaces a key sealed under another SESSION_SECRET instead of failing, keeping the old one published', async () => {
    const first = createTestContext();
    await started(first.app);
    const oldKid = await first.value<string>("SELECT kid FROM signing_keys WHERE status = 'active'");
    const { companyId } = await seedCompany(first, 'Acme', 'admin@acme.test');
    const client = await createClient(first, companyId);
    await closeApp(first.app);
    // The same database, another SESSION_SECRET (an operator changed it): a new server on its own connection.
    // (On SQLite two connections of one process must not write at once: the first is idle from here on.)
    const other = first.openAnother();
    const second = createApp({
      config: { ...first.config, sessionSecret: 'a-different-session-secret-0123456789abcdef' },
      database: other.db,
      clock: first.clock,
      logger: createLogger('silent'),
    });
    try {
      await started(second);
      const token = await obtainToken(second, client);
      const kid = decodeJwtPart(token, 0).kid as string;
      expect(kid).not.toBe(oldKid);
      const jwks = await request(second).get('/.well-known/jwks.json');
      expect((jwks.body as JwkSet).keys.map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, kid]));
      expect(await first.column("SELECT actor FROM audit_log WHERE action = 'signing_key.rotate'")).toEqual([
        'system (signing key sealed under another SESSION_SECRET)',
      ]);
    } finally {
      await closeApp(second);
      await other.close();
      await first.close();
    }
  });
});
