import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import request from 'supertest';
import { createTestContext, seedCompany } from './helpers';
import type { SeededUser } from './helpers';
import { clientBasic, createApiKey, createClient, decodeJwtPart, freePort, obtainToken, revoke } from './oauth-support';
import type { TestClient } from './oauth-support';

const ROOT = path.join(__dirname, '..');
const REGISTER = path.join(__dirname, 'oauth-ts-register.js');
const basic = (username: string, key: string) => `Basic ${Buffer.from(`${username}:${key}`).toString('base64')}`;

/**
 * Revocation is immediate across processes: a second server process (the real src/server.ts, run
 * from source) shares the SQLite file with this test's app, and neither caches credential state.
 */
describe('two server processes on one database', () => {
  const ctx = createTestContext();
  ctx.clock.set(Date.now()); // the other process runs on the real clock
  let acme: SeededUser;
  const env = {
    ...process.env,
    DATA_DIR: ctx.dataDir,
    ...ctx.databaseEnv, // PostgreSQL: the same database
    PUBLIC_URL: ctx.config.publicUrl, // the same issuer, so each accepts the other's tokens
    SESSION_SECRET: ctx.config.sessionSecret,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    ADMIN_EMAIL: '',
    ADMIN_PASSWORD: '',
  };
  let other: ChildProcess;
  let otherUrl: string;
  let otherOutput = '';

  const otherGet = (p: string, authorization: string) => fetch(`${otherUrl}${p}`, { headers: { authorization } });
  const otherToken = (c: TestClient) =>
    fetch(`${otherUrl}/oauth/token`, {
      method: 'POST',
      headers: { authorization: clientBasic(c.clientId, c.secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
  const hereGet = (p: string, authorization: string) => request(ctx.app).get(p).set('Authorization', authorization);

  beforeAll(async () => {
    acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    const port = await freePort();
    otherUrl = `http://127.0.0.1:${port}`;
    other = spawn(process.execPath, ['-r', REGISTER, path.join(ROOT, 'src', 'server.ts')], { cwd: ROOT, env: { ...env, PORT: String(port) } });
    other.stdout!.on('data', (chunk: Buffer) => (otherOutput += chunk.toString()));
    other.stderr!.on('data', (chunk: Buffer) => (otherOutput += chunk.toString()));
    const deadline = Date.now() + 45_000;
    for (;;) {
      if (other.exitCode !== null) throw new Error(`the second server exited with ${other.exitCode}:\n${otherOutput}`);
      const up = await fetch(`${otherUrl}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) break;
      if (Date.now() > deadline) throw new Error(`the second server did not start within 45 s:\n${otherOutput}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 60_000);

  afterAll(async () => {
    if (other && other.exitCode === null) {
      other.kill('SIGKILL');
      await new Promise((resolve) => other.once('exit', resolve));
    }
    await ctx.close();
  });

  it('accepts each other’s tokens', async () => {
    const client = await createClient(ctx, acme.companyId);
    const fromOther = (await (await otherToken(client)).json()) as { access_token: string };
    expect((await hereGet('/api/v1/me', `Bearer ${fromOther.access_token}`)).status).toBe(200);
    const fromHere = await obtainToken(ctx.app, client);
    expect((await otherGet('/api/v1/me', `Bearer ${fromHere}`)).status).toBe(200);
  });

  it('a token revoked here fails on its next request there', async () => {
    const client = await createClient(ctx, (await seedCompany(ctx, 'Revokes', 'r@revokes.test')).companyId);
    const token = await obtainToken(ctx.app, client);
    expect((await otherGet('/api/v1/me', `Bearer ${token}`)).status).toBe(200);
    const revoked = await request(ctx.app).post('/oauth/revoke').set('Authorization', clientBasic(client.clientId, client.secret)).type('form').send({ token });
    expect(revoked.status).toBe(200);
    const after = await otherGet('/api/v1/me', `Bearer ${token}`);
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  it('a token revoked there fails on its next request here', async () => {
    const client = await createClient(ctx, (await seedCompany(ctx, 'Revokes there', 'r@there.test')).companyId);
    const token = await obtainToken(ctx.app, client);
    expect((await hereGet('/api/v1/me', `Bearer ${token}`)).status).toBe(200);
    const revoked = await fetch(`${otherUrl}/oauth/revoke`, {
      method: 'POST',
      headers: { authorization: clientBasic(client.clientId, client.secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    });
    expect(revoked.status).toBe(200);
    expect((await hereGet('/api/v1/me', `Bearer ${token}`)).status).toBe(401);
  });

  it('an API key revoked here fails on its next request there, also at forward-auth', async () => {
    const co = await seedCompany(ctx, 'Keys', 'k@keys.test');
    const key = await createApiKey(ctx, co.companyId, 'shared-db-user');
    expect((await otherGet('/api/v1/me', basic(key.username, key.key))).status).toBe(200);
    expect((await otherGet('/auth/verify', basic(key.username, key.key))).status).toBe(200);
    await revoke(ctx, co.companyId, key.credentialId);
    expect((await otherGet('/api/v1/me', basic(key.username, key.key))).status).toBe(401);
    expect((await otherGet('/auth/verify', basic(key.username, key.key))).status).toBe(401);
  });

  it('a client replaced here (no overlap) fails there at once: new tokens and the tokens it already had', async () => {
    const co = await seedCompany(ctx, 'Replaces', 'r@replaces.test');
    const first = await createClient(ctx, co.companyId);
    const res = await otherToken(first);
    expect(res.status).toBe(200);
    const { access_token: token } = (await res.json()) as { access_token: string };
    expect((await otherGet('/api/v1/me', `Bearer ${token}`)).status).toBe(200);

    const second = await createClient(ctx, co.companyId, undefined, 'none');
    const refused = await otherToken(first);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: string }).error).toBe('invalid_client');
    expect((await otherGet('/api/v1/me', `Bearer ${token}`)).status).toBe(401);
    expect((await otherToken(second)).status).toBe(200);
  });

  it('a signing key rotated by the CLI (a third process) signs the next token of both servers', async () => {
    const client = await createClient(ctx, (await seedCompany(ctx, 'Rotates', 'r@rotates.test')).companyId);
    const before = decodeJwtPart(await obtainToken(ctx.app, client), 0).kid as string;
    const cli = spawnSync(process.execPath, ['-r', REGISTER, path.join(ROOT, 'src', 'cli.ts'), 'rotate-signing-key'], { cwd: ROOT, env, encoding: 'utf8' });
    expect(cli.stderr).toBe('');
    expect(cli.status).toBe(0);
    const newKid = /New signing key (\S+) is active/.exec(cli.stdout)?.[1];
    expect(newKid).toBeDefined();
    expect(newKid).not.toBe(before);
    expect(cli.stdout).toContain(`The previous key ${before} stays in the JWKS until`);

    const hereToken = await obtainToken(ctx.app, client);
    const { access_token: thereToken } = (await (await otherToken(client)).json()) as { access_token: string };
    expect(decodeJwtPart(hereToken, 0).kid).toBe(newKid);
    expect(decodeJwtPart(thereToken, 0).kid).toBe(newKid);
    expect((await otherGet('/api/v1/me', `Bearer ${hereToken}`)).status).toBe(200);
    expect((await hereGet('/api/v1/me', `Bearer ${thereToken}`)).status).toBe(200);
    const jwks = (await (await fetch(`${otherUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid).sort()).toEqual(expect.arrayContaining([before, newKid]));
  });

  it('flushes the coalesced last-used times when it shuts down on SIGTERM', async () => {
    const co = await seedCompany(ctx, 'Last used', 'l@last.test');
    const key = await createApiKey(ctx, co.companyId, 'last-used-user');
    expect((await otherGet('/api/v1/me', basic(key.username, key.key))).status).toBe(200);

    const exited = new Promise<number | null>((resolve) => other.once('exit', (code) => resolve(code)));
    other.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(await ctx.value('SELECT last_used_at FROM credentials WHERE id = ?', key.credentialId)).toEqual(expect.any(Number));
  });
});
