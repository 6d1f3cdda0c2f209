import crypto from 'node:crypto';
import type { Express } from 'express';
import { SignJWT, importPKCS8 } from 'jose';
import type { JWTHeaderParameters, SignOptions } from 'jose';
import request from 'supertest';
import { createApp } from '../src/app';
import { EXIT } from '../src/cli/command';
import { MINUTE } from '../src/clock';
import { sealingKey } from '../src/platform/signing-keys/service';
import { closeApp } from '../src/lifecycle';
import { createLogger } from '../src/log';
import { createTestContext, seedCompany, signIn } from './helpers';
import type { TestContext } from './helpers';
import { clientBasic, createClient, decodeJwtPart, obtainToken, started } from './oauth-support';
import type { TestClient } from './oauth-support';
import { ensureBuilt, freePort, runCli, startServer } from './ops-support';
import type { RunningServer } from './ops-support';

/**
 * A token is accepted only while its key signs, or is retired but still published, and only for a
 * lifetime we could have given it; an emergency rotation unpublishes the old key at once, for every
 * process on the database file. The attacker below copied the database file and the session secret
 * before a rotation, and so holds the private key that was active then.
 */

const TTL = 3600; // ACCESS_TOKEN_TTL of createTestContext (the default)
const seconds = (ms: number) => Math.floor(ms / 1000);

interface CopiedKey {
  kid: string;
  key: CryptoKey;
  /** The published public key as PEM: what an algorithm-confusion attack uses as the HMAC secret. */
  publicPem: string;
}

/** The active private key, unsealed the way the server does it, by whoever holds the file and the secret. */
async function copyActiveKey(ctx: TestContext): Promise<CopiedKey> {
  const [row] = await ctx.query<{ kid: string; sealed: string; jwk: string }>(
    "SELECT kid, private_pem AS sealed, public_jwk AS jwk FROM signing_keys WHERE status = 'active'",
  );
  const [iv, tag, body] = row.sealed
    .slice('sealed:v1:'.length)
    .split('.')
    .map((part) => Buffer.from(part, 'base64url'));
  const decipher = crypto.createDecipheriv('aes-256-gcm', sealingKey(ctx.config.sessionSecret), iv);
  decipher.setAuthTag(tag);
  const pem = Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  const publicPem = crypto.createPublicKey({ key: JSON.parse(row.jwk) as crypto.JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
  return { kid: row.kid, key: await importPKCS8(pem, 'ES256'), publicPem };
}

/** What an attacker may change besides the times: header parameters, claims, and the key (with its alg). */
interface Tampering {
  header?: Partial<JWTHeaderParameters> & Record<string, unknown>;
  claims?: Record<string, unknown>;
  signWith?: { alg: string; key: CryptoKey | Uint8Array };
  /** jose signs an unknown critical parameter only when told that it understands it. */
  signOptions?: SignOptions;
}

/** A token for a real client, with the times the attacker chooses (seconds since the epoch). */
function mint(ctx: TestContext, copy: CopiedKey, client: TestClient, times: { iat: number; exp: number }, tampering: Tampering = {}): Promise<string> {
  const claims = { iss: ctx.config.publicUrl, aud: `${ctx.config.publicUrl}/api`, sub: client.clientId, client_id: client.clientId };
  const { alg, key } = tampering.signWith ?? { alg: 'ES256', key: copy.key };
  return new SignJWT({ ...claims, scope: '', jti: crypto.randomUUID(), credential_id: client.credentialId, ...times, ...tampering.claims })
    .setProtectedHeader({ alg, typ: 'at+jwt', kid: copy.kid, ...tampering.header })
    .sign(key, tampering.signOptions);
}

/** What the three doors say to a token: /api/v1/me, forward-auth, and introspection by a client of its company. */
async function doors(app: Express, token: string, introspector: TestClient): Promise<{ me: number; verify: number; active: boolean }> {
  const me = await request(app).get('/api/v1/me').set('Authorization', `Bearer ${token}`);
  const verify = await request(app).get('/auth/verify').set('Authorization', `Bearer ${token}`);
  const introspection = await request(app)
    .post('/oauth/introspect')
    .set('Authorization', clientBasic(introspector.clientId, introspector.secret))
    .type('form')
    .send({ token });
  if (me.status === 401) expect(me.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  return { me: me.status, verify: verify.status, active: (introspection.body as { active: boolean }).active };
}

const ACCEPTED = { me: 200, verify: 200, active: true };
const REFUSED = { me: 401, verify: 401, active: false };

const publishedKids = async (app: Express | string): Promise<string[]> => {
  const body = typeof app === 'string' ? await (await fetch(`${app}/.well-known/jwks.json`)).json() : (await request(app).get('/.well-known/jwks.json')).body;
  return (body as { keys: { kid: string }[] }).keys.map((k) => k.kid);
};

// A fresh database per test: rotations are not undone. Acme's administrator is also an operator.
describe('one console', () => {
  let ctx: TestContext;
  let client: TestClient;
  beforeEach(async () => {
    ctx = createTestContext();
    await started(ctx.app);
    client = await createClient(ctx, (await seedCompany(ctx, 'Acme', 'admin@acme.test', { operator: true })).companyId);
  });
  afterEach(() => ctx.close());

  describe('Bearer tokens and the state of their signing key', () => {
    const rotate = async () => {
      const operator = await signIn(ctx.app, 'admin@acme.test');
      expect((await operator.post('/operator/signing-keys/rotate').type('form').send({ _csrf: operator.csrf })).status).toBe(303);
    };

    it('refuses a token whose exp - iat exceeds ACCESS_TOKEN_TTL, even one signed with the active key', async () => {
      const copy = await copyActiveKey(ctx);
      const now = seconds(ctx.clock.now());
      expect(await doors(ctx.app, await mint(ctx, copy, client, { iat: now, exp: now + TTL }), client)).toEqual(ACCEPTED);
      expect(await doors(ctx.app, await mint(ctx, copy, client, { iat: now, exp: now + TTL + 1 }), client)).toEqual(REFUSED);
      expect(await doors(ctx.app, await mint(ctx, copy, client, { iat: now - 60, exp: now + 30 * 24 * 3600 }), client)).toEqual(REFUSED);
    });

    it('refuses a token issued in the future, beyond five minutes of clock skew', async () => {
      const copy = await copyActiveKey(ctx);
      const now = seconds(ctx.clock.now());
      expect(await doors(ctx.app, await mint(ctx, copy, client, { iat: now + 60, exp: now + 60 + TTL }), client)).toEqual(ACCEPTED);
      expect(await doors(ctx.app, await mint(ctx, copy, client, { iat: now + 10 * 60, exp: now + 10 * 60 + TTL }), client)).toEqual(REFUSED);
    });

    it('refuses a token minted with a copy of a retired key whose exp is past the key’s publish end', async () => {
      const copy = await copyActiveKey(ctx);
      const rotatedAt = ctx.clock.now();
      await rotate();
      const publishEnd = seconds(rotatedAt) + TTL + 5 * 60; // the last genuine token's exp, plus 5 minutes
      ctx.clock.advance(30 * MINUTE);
      const now = seconds(ctx.clock.now());
      expect(await doors(ctx.app, await mint(ctx, copy, client, { iat: now, exp: publishEnd }), client)).toEqual(ACCEPTED);
      expect(await doors(ctx.app, await mint(ctx, copy, client, { iat: now, exp: now + TTL }), client)).toEqual(REFUSED);
    });

    it('refuses every token of a retired key once its publish window has ended', async () => {
      const copy = await copyActiveKey(ctx);
      await rotate();
      ctx.clock.advance(TTL * 1000 + 5 * MINUTE);
      expect(await publishedKids(ctx.app)).not.toContain(copy.kid);
      const now = seconds(ctx.clock.now());
      expect(await doors(ctx.app, await mint(ctx, copy, client, { iat: now, exp: now + 600 }), client)).toEqual(REFUSED);
    });
  });

  // Correctly signed with the active key (a copy of it), each of these breaks one rule jose checks for us.
  describe('Bearer tokens signed with the active key but not shaped like ours', () => {
    const now = () => seconds(ctx.clock.now());

    const cases: [string, (copy: CopiedKey) => Tampering][] = [
      ["refuses typ 'JWT' (not an access token, RFC 9068)", () => ({ header: { typ: 'JWT' } })],
      ['refuses a token without typ', () => ({ header: { typ: undefined } })],
      ['refuses another issuer', () => ({ claims: { iss: 'https://elsewhere.example' } })],
      ['refuses another audience', () => ({ claims: { aud: 'https://elsewhere.example/api' } })],
      ["refuses a critical header parameter we do not understand (crit: ['x'])", () => ({ header: { crit: ['x'], x: 1 }, signOptions: { crit: { x: true } } })],
      [
        'refuses alg HS256 under our kid, keyed with our public key (algorithm confusion)',
        (copy) => ({ signWith: { alg: 'HS256', key: new TextEncoder().encode(copy.publicPem) } }),
      ],
    ];

    it.each(cases)('%s on /api/v1/me, /auth/verify and /oauth/introspect', async (_name, tampering) => {
      const copy = await copyActiveKey(ctx);
      const times = { iat: now(), exp: now() + 600 };
      expect(await doors(ctx.app, await mint(ctx, copy, client, times), client)).toEqual(ACCEPTED); // the same token, untampered
      expect(await doors(ctx.app, await mint(ctx, copy, client, times, tampering(copy)), client)).toEqual(REFUSED);
    });
  });

  describe('POST /operator/signing-keys/retire-now (emergency rotation from the operator page)', () => {
    /** Another server on the same database file: its own connection, its own caches. */
    const otherApp = async () => {
      const connection = ctx.openAnother();
      const app = createApp({ config: ctx.config, database: connection.db, clock: ctx.clock, logger: createLogger('silent') });
      await started(app);
      return { app, close: async () => (await closeApp(app), await connection.close()) };
    };

    it('shows the button beside Rotate, saying what it does to the tokens issued until now', async () => {
      const operator = await signIn(ctx.app, 'admin@acme.test');
      const page = await operator.get('/operator/signing-keys');
      expect(page.status).toBe(200);
      expect(page.text).toContain('Rotate signing key');
      expect(page.text).toContain('action="/operator/signing-keys/retire-now"');
      expect(page.text).toContain('Every access token issued until now is refused on its next use');
      expect(page.text).toContain('Rotate and retire the old key now');
    });

    it('asks for the confirmation and changes nothing without it, with or without htmx', async () => {
      const operator = await signIn(ctx.app, 'admin@acme.test');
      const before = await publishedKids(ctx.app);
      const token = await obtainToken(ctx.app, client);

      const res = await operator.post('/operator/signing-keys/retire-now').type('form').send({ _csrf: operator.csrf });
      expect(res.status).toBe(422);
      expect(res.text).toContain('<html');
      expect(res.text).toContain('Tick the box to confirm that every access token issued until now stops working at once.');
      expect(res.text).toMatch(/name="confirm" value="on" required aria-invalid="true"/);

      const fragment = await operator.post('/operator/signing-keys/retire-now').set('HX-Request', 'true').set('X-CSRF-Token', operator.csrf);
      expect(fragment.status).toBe(422);
      expect(fragment.text).not.toContain('<html');
      expect(fragment.text).toContain('id="signing-keys"');
      expect(fragment.text).toContain('Tick the box to confirm');

      expect(await publishedKids(ctx.app)).toEqual(before);
      expect(await doors(ctx.app, token, client)).toEqual(ACCEPTED);
    });

    it('refuses it without the CSRF token, changing nothing', async () => {
      const operator = await signIn(ctx.app, 'admin@acme.test');
      const before = await publishedKids(ctx.app);
      const res = await operator.post('/operator/signing-keys/retire-now').type('form').send({ confirm: 'on' });
      expect(res.status).toBe(403);
      expect(await publishedKids(ctx.app)).toEqual(before);
    });

    it('unpublishes the old key at once: another server on the database refuses its tokens on the next request, cached ones too', async () => {
      const other = await otherApp();
      try {
        const token = await obtainToken(ctx.app, client);
        const oldKid = decodeJwtPart(token, 0).kid as string;
        expect(await doors(other.app, token, client)).toEqual(ACCEPTED); // its signature is now cached there

        const operator = await signIn(ctx.app, 'admin@acme.test');
        const res = await operator.post('/operator/signing-keys/retire-now').type('form').send({ _csrf: operator.csrf, confirm: 'on' });
        expect(res.status).toBe(303);
        expect(res.headers.location).toBe('/operator/signing-keys');
        const page = await operator.get('/operator/signing-keys');
        expect(page.text).toContain(`The previous key ${oldKid.slice(0, 12)}… left the JWKS: every access token it signed is refused from now on`);
        expect(page.text).toContain('Retired at once');

        expect(await doors(other.app, token, client)).toEqual(REFUSED);
        expect(await doors(ctx.app, token, client)).toEqual(REFUSED);
        const kids = await publishedKids(other.app);
        expect(kids).toHaveLength(1);
        expect(kids).not.toContain(oldKid);
        const fresh = await obtainToken(other.app, client);
        expect(decodeJwtPart(fresh, 0).kid).toBe(kids[0]);
        expect(await doors(ctx.app, fresh, client)).toEqual(ACCEPTED);

        const [audit] = await ctx.query<{ actor: string; details: string }>("SELECT actor, details FROM audit_log WHERE action = 'signing_key.rotate'");
        expect(audit.actor).toBe('admin@acme.test');
        expect(JSON.parse(audit.details)).toMatchObject({ previousKid: oldKid, kid: kids[0], retiredNow: true });
      } finally {
        await other.close();
      }
    });

    it('also takes out an older key still in its publish window, and the tokens it signed', async () => {
      const first = await obtainToken(ctx.app, client);
      const operator = await signIn(ctx.app, 'admin@acme.test');
      await operator.post('/operator/signing-keys/rotate').type('form').send({ _csrf: operator.csrf });
      const second = await obtainToken(ctx.app, client);
      expect(await doors(ctx.app, first, client)).toEqual(ACCEPTED);

      const res = await operator
        .post('/operator/signing-keys/retire-now')
        .set('HX-Request', 'true')
        .set('X-CSRF-Token', operator.csrf)
        .type('form')
        .send({ confirm: 'on' });
      expect(res.status).toBe(204);
      expect(res.headers['hx-redirect']).toBe('/operator/signing-keys');

      expect(await doors(ctx.app, first, client)).toEqual(REFUSED);
      expect(await doors(ctx.app, second, client)).toEqual(REFUSED);
      const kids = await publishedKids(ctx.app);
      expect(kids).toHaveLength(1);
      expect(kids).not.toContain(decodeJwtPart(first, 0).kid);
      expect(kids).not.toContain(decodeJwtPart(second, 0).kid);
    });
  });
});

/**
 * Separate processes on one database: this test's app, the built server (another process), and
 * the built CLI (a third). The server runs on the real clock, so this app's clock is set to it.
 */
describe('npm run cli -- rotate-signing-key --retire-now', () => {
  const ctx = createTestContext();
  ctx.clock.set(Date.now());
  let client: TestClient;
  const env = { DATA_DIR: ctx.dataDir, ...ctx.databaseEnv, PUBLIC_URL: ctx.config.publicUrl, SESSION_SECRET: ctx.config.sessionSecret };
  let server: RunningServer;

  beforeAll(async () => {
    client = await createClient(ctx, (await seedCompany(ctx, 'Acme', 'admin@acme.test')).companyId);
    ensureBuilt();
    server = await startServer(env, await freePort());
  }, 180_000);
  afterAll(async () => {
    server?.child.kill('SIGKILL');
    await server?.exited;
    await ctx.close();
  });

  const tokenThere = async () => {
    const res = await fetch(`${server.base}/oauth/token`, {
      method: 'POST',
      headers: { authorization: clientBasic(client.clientId, client.secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    return ((await res.json()) as { access_token: string }).access_token;
  };
  const meThere = async (token: string) => (await fetch(`${server.base}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } })).status;
  const verifyThere = async (token: string) => (await fetch(`${server.base}/auth/verify`, { headers: { authorization: `Bearer ${token}` } })).status;

  it('refuses an unknown option with a usage error, changing nothing', async () => {
    const before = await publishedKids(ctx.app);
    const res = await runCli(['rotate-signing-key', '--retire-soon'], env);
    expect(res.code).toBe(EXIT.usage);
    expect(res.stderr).toContain("rotate-signing-key: Unknown option '--retire-soon'");
    expect(await publishedKids(ctx.app)).toEqual(before);
  });

  it('--help says what --retire-now does', async () => {
    const res = await runCli(['rotate-signing-key', '--help'], env);
    expect(res.code).toBe(EXIT.ok);
    expect(res.stdout).toMatch(/Usage: npm run cli -- rotate-signing-key \[--retire-now\]/);
    expect(res.stdout).toMatch(/--retire-now\s+for a suspected leak/);
  });

  it('unpublishes the old key at once: both servers refuse its tokens on the next request, cached ones too', async () => {
    const here = await obtainToken(ctx.app, client);
    const there = await tokenThere();
    const oldKid = decodeJwtPart(here, 0).kid as string;
    expect(decodeJwtPart(there, 0).kid).toBe(oldKid);
    // Each server has now checked, and cached, both tokens.
    for (const token of [here, there]) {
      expect(await meThere(token)).toBe(200);
      expect(await doors(ctx.app, token, client)).toEqual(ACCEPTED);
    }

    const cli = await runCli(['rotate-signing-key', '--retire-now'], env);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(EXIT.ok);
    const newKid = /New signing key (\S+) is active/.exec(cli.stdout)?.[1];
    expect(cli.stdout).toContain(`The previous key ${oldKid} left the JWKS now: every token it signed is refused from the next request on`);

    for (const token of [here, there]) {
      expect(await meThere(token)).toBe(401);
      expect(await verifyThere(token)).toBe(401);
      expect(await doors(ctx.app, token, client)).toEqual(REFUSED);
    }
    expect(await publishedKids(server.base)).toEqual([newKid]);
    expect(await publishedKids(ctx.app)).toEqual([newKid]);
    const fresh = await tokenThere();
    expect(decodeJwtPart(fresh, 0).kid).toBe(newKid);
    expect(await doors(ctx.app, fresh, client)).toEqual(ACCEPTED);

    const [audit] = await ctx.query<{ actor: string; details: string }>("SELECT actor, details FROM audit_log WHERE action = 'signing_key.rotate'");
    expect(audit.actor).toBe('cli');
    expect(JSON.parse(audit.details)).toMatchObject({ previousKid: oldKid, retiredNow: true });
  });
});
