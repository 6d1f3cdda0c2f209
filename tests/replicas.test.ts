import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrationFiles } from '../src/db/migrate';
import { fieldValue, saveIdIn } from './credentials-helpers';
import { ensureBuilt, freePort, startServer } from './ops-support';
import type { RunningServer } from './ops-support';
import { findNginx, startNginx } from './support/nginx';
import type { Nginx } from './support/nginx';
import { startCluster } from './support/postgres';
import type { Cluster } from './support/postgres';

/**
 * Several replicas on one PostgreSQL (issue 12), as an operator runs them: two console processes
 * from dist/ with one DATABASE_URL and one SESSION_SECRET, behind a real nginx running
 * deploy/nginx.conf (the file compose.yaml mounts) round-robin over both. Each replica has its own
 * DATA_DIR, as two containers would: whatever they share, they share through PostgreSQL.
 * This test owns its PostgreSQL cluster and its nginx, whatever TEST_ENGINE says, and never skips.
 */

const ADMIN_EMAIL = 'operator@replicas.test';
const ADMIN_PASSWORD = 'correct horse battery staple';
const SESSION_SECRET = crypto.randomBytes(32).toString('base64url');
const DATABASE = 'console';

/** deploy/nginx.conf with this test's ports instead of the compose service names. */
function deployedSite(replicaPorts: number[], listenPort: number): string {
  let site = fs.readFileSync(path.join(__dirname, '..', 'deploy', 'nginx.conf'), 'utf8');
  const expected = ['server console-1:3000 ', 'server console-2:3000 ', 'listen 80;'];
  for (const text of expected) if (!site.includes(text)) throw new Error(`deploy/nginx.conf no longer contains "${text}"`);
  site = site.replace('server console-1:3000 ', `server 127.0.0.1:${replicaPorts[0]} `);
  site = site.replace('server console-2:3000 ', `server 127.0.0.1:${replicaPorts[1]} `);
  return site.replace('listen 80;', `listen 127.0.0.1:${listenPort};`);
}

interface Answer {
  status: number;
  text: string;
  location: string | null;
  /** Which replica nginx used (its address), or '' when the request did not go through nginx. */
  upstream: string;
}

/** A browser in miniature: keeps cookies, never follows redirects, posts forms with the page's CSRF token. */
class Browser {
  private readonly cookies = new Map<string, string>();
  csrf = '';

  async request(base: string, pathname: string, form?: Record<string, string>, extraHeaders: Record<string, string> = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...extraHeaders };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    let body: string | undefined;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams({ _csrf: this.csrf, ...form }).toString();
    }
    const res = await fetch(`${base}${pathname}`, { method: form ? 'POST' : 'GET', headers, body, redirect: 'manual' });
    for (const cookie of res.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /;\s*max-age=0/i.test(cookie) || /expires=Thu, 01 Jan 1970/i.test(cookie)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return { status: res.status, text: await res.text(), location: res.headers.get('location'), upstream: res.headers.get('x-upstream') ?? '' };
  }

  get(base: string, pathname: string): Promise<Answer> {
    return this.request(base, pathname);
  }

  post(base: string, pathname: string, form: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<Answer> {
    return this.request(base, pathname, form, headers);
  }

  /** Takes the CSRF token a page carries (the session's, the same on every replica). */
  async csrfFrom(base: string, pathname: string): Promise<void> {
    const page = await this.get(base, pathname);
    const match = /name="_csrf" value="([^"]+)"/.exec(page.text);
    if (page.status !== 200 || !match) throw new Error(`no CSRF token on ${pathname} (${page.status})`);
    this.csrf = match[1];
  }
}

const basic = (username: string, key: string) => `Basic ${Buffer.from(`${username}:${key}`).toString('base64')}`;

describe('two console replicas on one PostgreSQL behind nginx (round-robin)', () => {
  let dir = ''; // made in beforeAll: a run that skips these tests leaves nothing behind
  let cluster: Cluster | undefined;
  const replicas: RunningServer[] = [];
  let nginx: Nginx | undefined;
  let proxy: string; // http://127.0.0.1:PORT, nginx
  let direct: [string, string]; // each replica's own address
  let operator: Browser;
  let victimUpstream = 'the replica killed under load'; // in nginx's error log

  const sql = (command: string): string => cluster!.psql(command, DATABASE).trim();
  /** The credential check; `from` is the client address a trusted proxy would give (X-Forwarded-For). */
  const verify = (base: string, authorization: string, from?: string) =>
    fetch(`${base}/auth/verify`, { headers: { authorization, ...(from ? { 'x-forwarded-for': from } : {}) } }).then(async (res) => {
      await res.arrayBuffer();
      return { status: res.status, upstream: res.headers.get('x-upstream') ?? '', retryAfter: Number(res.headers.get('retry-after') ?? 0) };
    });
  const jwksKids = async (base: string): Promise<string[]> => {
    const res = await fetch(`${base}/.well-known/jwks.json`);
    const body = (await res.json()) as { keys: { kid: string }[] };
    return body.keys.map((key) => key.kid).sort();
  };

  /** Generates a Basic key on one replica and saves it on another; returns what the developers get. */
  const newApiKey = async (generateOn: string, saveOn: string, username: string) => {
    const generated = await operator.post(generateOn, '/admin/api/basic-auth/generate', { username });
    expect(generated.status).toBe(200);
    const key = fieldValue(generated.text, 'basic-key')!;
    const id = saveIdIn(generated.text, 'basic-auth');
    const saved = await operator.post(saveOn, `/admin/api/basic-auth/${id}/save`, { overlap: 'none' });
    expect(saved.status).toBe(303);
    return { id, username, key, authorization: basic(username, key) };
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-replicas-'));
    ensureBuilt();
    const binary = findNginx();
    cluster = await startCluster();
    cluster.psql(`CREATE DATABASE ${DATABASE}`);

    const [portA, portB, listenPort] = [await freePort(), await freePort(), await freePort()];
    proxy = `http://127.0.0.1:${listenPort}`;
    direct = [`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portB}`];

    for (const sub of ['replica-1', 'replica-2']) fs.mkdirSync(path.join(dir, sub), { mode: 0o700 }); // DATA_DIRs must be closed to others
    nginx = startNginx({
      binary,
      dir,
      name: 'deploy/nginx.conf',
      workerConnections: 256,
      // The test's own addition, inherited by the deployed site: which replica answered (after a retry, both).
      http: ['  add_header X-Upstream $upstream_addr always;', deployedSite([portA, portB], listenPort)].join('\n'),
    });

    // Both replicas start at the same moment on an empty database: migrations and the first operator must happen once.
    const env = (name: string): Record<string, string> => ({
      DATABASE_URL: cluster!.url(DATABASE),
      DATA_DIR: path.join(dir, name),
      SESSION_SECRET,
      PUBLIC_URL: proxy,
      TRUST_PROXY: 'loopback',
      ADMIN_EMAIL,
      ADMIN_PASSWORD,
      COMPANY_NAME: 'Replicas',
    });
    const started = await Promise.allSettled([startServer(env('replica-1'), portA), startServer(env('replica-2'), portB)]);
    for (const result of started) if (result.status === 'fulfilled') replicas.push(result.value);
    const failed = started.filter((result) => result.status === 'rejected').map((result) => String(result.reason));
    if (failed.length) throw new Error(`a replica did not start:\n${failed.join('\n')}`);

    // Two SQLite-backed servers are not what this test is about: a replica that ignored DATABASE_URL fails it here.
    for (const name of ['replica-1', 'replica-2']) {
      const files = fs.readdirSync(path.join(dir, name)).filter((file) => file.startsWith('console.sqlite'));
      if (files.length) throw new Error(`${name} opened a SQLite file (${files.join(', ')}) instead of DATABASE_URL`);
    }

    await nginx.waitUntilUp(`${proxy}/healthz`, (res) => res.ok);
  }, 240_000);

  afterAll(async () => {
    // Each step on its own: a failed start still leaves nothing running and nothing on disk.
    for (const replica of replicas) {
      if (replica.child.exitCode === null && replica.child.signalCode === null) replica.child.kill('SIGKILL');
      await replica.exited;
    }
    await nginx?.stop();
    try {
      cluster?.stop();
    } finally {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('ran the migrations once and created one operator, although both replicas started together', () => {
    const files = migrationFiles();
    expect(sql('SELECT COUNT(*) FROM schema_migrations')).toBe(String(files.length));
    expect(sql('SELECT name FROM schema_migrations ORDER BY name').split('\n')).toEqual(files);
    expect(sql('SELECT COUNT(*) FROM users')).toBe('1');
    expect(sql('SELECT email, is_operator FROM users')).toBe(`${ADMIN_EMAIL}|1`);
    expect(sql('SELECT name FROM companies')).toBe('Replicas');
  });

  it('signs in through the proxy, and the session works on each replica', async () => {
    operator = new Browser();
    await operator.csrfFrom(proxy, '/sign-in');
    const signedIn = await operator.post(proxy, '/sign-in', { email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
    expect(signedIn.status).toBe(303);
    for (const base of direct) {
      const page = await operator.get(base, '/admin/api');
      expect(page.status).toBe(200);
      expect(page.text).toContain('<h1>API</h1>');
    }
    await operator.csrfFrom(direct[0], '/admin/api');
    // nginx takes turns: consecutive requests through it reach both replicas.
    const upstreams = new Set<string>();
    for (let i = 0; i < 4; i++) upstreams.add((await operator.get(proxy, '/admin/api')).upstream);
    expect([...upstreams].sort()).toEqual(direct.map((base) => base.replace('http://', '')).sort());
  });

  it('a key generated on one replica and saved on the other works through both and through the proxy', async () => {
    const key = await newApiKey(direct[0], direct[1], 'shared-key');
    for (const base of direct) expect((await verify(base, key.authorization)).status).toBe(200);
    const throughProxy = await Promise.all([1, 2, 3, 4].map(() => verify(proxy, key.authorization)));
    expect(throughProxy.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);

    // Revoked through one replica: the next request through the other is refused, and through the proxy too.
    await operator.csrfFrom(direct[0], '/admin/api');
    const revoked = await operator.post(direct[0], `/admin/api/credentials/${key.id}/revoke`, { reason: 'replica test' });
    expect(revoked.status).toBe(303);
    expect((await verify(direct[1], key.authorization)).status).toBe(401);
    expect((await verify(direct[0], key.authorization)).status).toBe(401);
    for (let i = 0; i < 2; i++) expect((await verify(proxy, key.authorization)).status).toBe(401);
    expect(sql(`SELECT status FROM credentials WHERE id = ${key.id}`)).toBe('revoked');
  });

  it('a signing key rotated on one replica is in the JWKS of both within a second, and signs on both', async () => {
    const before = await jwksKids(direct[1]);
    expect(before.length).toBeGreaterThan(0);
    await operator.csrfFrom(direct[0], '/operator/signing-keys');
    const rotated = await operator.post(direct[0], '/operator/signing-keys/rotate');
    expect(rotated.status).toBe(303);
    const acknowledged = Date.now();
    const newKid = sql("SELECT kid FROM signing_keys WHERE status = 'active'");
    expect(before).not.toContain(newKid);
    let seen: string[][] = [];
    while (Date.now() - acknowledged < 1000) {
      seen = await Promise.all(direct.map(jwksKids));
      if (seen.every((kids) => kids.includes(newKid))) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const kids of seen) expect(kids).toEqual(expect.arrayContaining([newKid, ...before]));
    expect(Date.now() - acknowledged).toBeLessThan(1000);

    // The new key signs on both replicas, and each accepts the other's tokens.
    await operator.csrfFrom(direct[1], '/admin/api');
    const generated = await operator.post(direct[1], '/admin/api/oauth/generate', { scopes: 'claims:read' });
    expect(generated.status).toBe(200);
    const [clientId, secret] = [fieldValue(generated.text, 'oauth-client-id')!, fieldValue(generated.text, 'oauth-client-secret')!];
    expect((await operator.post(direct[0], `/admin/api/oauth/${saveIdIn(generated.text, 'oauth')}/save`, { overlap: 'none' })).status).toBe(303);
    const tokens: string[] = [];
    for (const base of direct) {
      const res = await fetch(`${base}/oauth/token`, {
        method: 'POST',
        headers: { authorization: basic(encodeURIComponent(clientId), encodeURIComponent(secret)), 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      });
      expect(res.status).toBe(200);
      const token = ((await res.json()) as { access_token: string }).access_token;
      expect((JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as { kid: string }).kid).toBe(newKid);
      tokens.push(token);
    }
    expect((await fetch(`${direct[1]}/api/v1/me`, { headers: { authorization: `Bearer ${tokens[0]}` } })).status).toBe(200);
    expect((await fetch(`${direct[0]}/api/v1/me`, { headers: { authorization: `Bearer ${tokens[1]}` } })).status).toBe(200);
  });

  it('counts throttled guesses across replicas: spreading them over both gains nothing', async () => {
    // Each replica is asked directly, with the client address a trusted proxy would give, so that
    // blocking this address leaves the proxy's own (127.0.0.1) free for the other tests.
    const attacker = '203.0.113.7';
    const key = await newApiKey(direct[0], direct[1], 'throttle-target');
    const wrong = basic(key.username, key.key.slice(0, -1) + (key.key.endsWith('A') ? 'B' : 'A'));
    // src/platform/failures.ts: 30 guesses per address per minute. Half to each replica.
    for (let i = 0; i < 30; i++) expect((await verify(direct[i % 2], wrong, attacker)).status).toBe(401);
    for (const base of direct) {
      const refused = await verify(base, key.authorization, attacker);
      expect(refused.status).toBe(401);
      expect(refused.retryAfter).toBeGreaterThan(0);
      expect((await verify(base, key.authorization, '203.0.113.8')).status).toBe(200);
    }

    // Sign-in: 5 failures per account in 15 minutes (src/features/auth/service.ts), 3 on one replica and 2 on the other.
    const guesser = new Browser();
    await guesser.csrfFrom(direct[0], '/sign-in');
    const attempt = (base: string, password: string) =>
      guesser.post(base, '/sign-in', { email: 'nobody@replicas.test', password }, { 'x-forwarded-for': '203.0.113.9' });
    for (let i = 0; i < 5; i++) expect((await attempt(direct[i % 2 === 0 ? 0 : 1], `wrong password ${i}`)).status).toBe(401);
    for (const base of direct) expect((await attempt(base, 'another wrong password')).status).toBe(429);
  });

  it('SIGKILL of one replica under load: the other keeps answering, and no acknowledged save is lost', async () => {
    await operator.csrfFrom(proxy, '/admin/api');
    const reader = await newApiKey(proxy, proxy, 'load-reader');
    const [survivor, victim] = replicas;
    const survivorAddress = direct[0].replace('http://', '');
    const victimAddress = direct[1].replace('http://', '');
    victimUpstream = `upstream: "http://${victimAddress}/`;

    // The kill comes once the load has run a while and a save was acknowledged; the load goes on after it until a
    // save was acknowledged after the kill too. Waits, not fixed times: on a busy machine a save can take a second.
    const KILL_AFTER_MS = 700;
    const LOAD_AFTER_KILL_MS = 1300;
    const LIMIT_MS = 15_000;
    let stopped = false;
    const start = Date.now();
    let killedAt = Infinity;
    const reads: { startedAt: number; status: number; upstream: string }[] = [];
    const acknowledged: { id: number; at: number }[] = [];

    // Readers: the credential check, as an API gateway would send it, four at a time.
    const readLoop = async () => {
      while (!stopped) {
        const startedAt = Date.now();
        const answer = await verify(proxy, reader.authorization).catch(() => ({ status: 0, upstream: 'no answer' }));
        reads.push({ startedAt, ...answer });
      }
    };
    // A writer: OAuth client credentials generated and saved through the proxy, one after another (the Basic
    // key the readers use stays active). A save that got no answer is sent again: saving is safe to repeat.
    const writeLoop = async () => {
      while (!stopped) {
        const generated = await operator.post(proxy, '/admin/api/oauth/generate', { scopes: 'claims:read' }).catch(() => undefined);
        if (generated?.status !== 200) continue;
        const id = saveIdIn(generated.text, 'oauth');
        for (let attempt = 0; attempt < 5; attempt++) {
          const saved = await operator.post(proxy, `/admin/api/oauth/${id}/save`, { overlap: 'none' }).catch(() => undefined);
          // 303: saved now. 200 "already saved": an earlier attempt was saved, but its answer was lost with the replica.
          if (saved?.status === 303 || (saved?.status === 200 && saved.text.includes('is already saved and active'))) {
            acknowledged.push({ id, at: Date.now() });
            break;
          }
        }
      }
    };
    const pause = () => new Promise((resolve) => setTimeout(resolve, 20));
    const killer = (async () => {
      while (Date.now() - start < LIMIT_MS && (Date.now() - start < KILL_AFTER_MS || acknowledged.length === 0)) await pause();
      killedAt = Date.now();
      victim.child.kill('SIGKILL');
      const exit = await victim.exited;
      while (Date.now() - start < LIMIT_MS && (Date.now() - killedAt < LOAD_AFTER_KILL_MS || !acknowledged.some((save) => save.at > killedAt))) await pause();
      stopped = true;
      return exit;
    })();
    await Promise.all([readLoop(), readLoop(), readLoop(), readLoop(), writeLoop(), killer]);
    expect(await killer).toEqual({ code: null, signal: 'SIGKILL' });

    // Both replicas answered before the kill; after it, every read was answered (nginx retried the ones the
    // dead replica dropped), by the survivor.
    const beforeKill = reads.filter((read) => read.startedAt < killedAt);
    const afterKill = reads.filter((read) => read.startedAt > killedAt);
    expect(new Set(beforeKill.map((read) => read.upstream.split(', ')[0]))).toEqual(new Set([survivorAddress, victimAddress]));
    expect(afterKill.length).toBeGreaterThan(20);
    expect(afterKill.filter((read) => read.status !== 200)).toEqual([]);
    expect(afterKill.filter((read) => !read.upstream.endsWith(survivorAddress))).toEqual([]);
    expect(reads.filter((read) => read.status !== 200)).toEqual([]);

    // Every save acknowledged, before or after the kill, is in the database; the last one is the active client.
    expect(acknowledged.filter((save) => save.at < killedAt).length).toBeGreaterThan(0);
    expect(acknowledged.filter((save) => save.at > killedAt).length).toBeGreaterThan(0);
    const ids = acknowledged.map((save) => save.id);
    const stored = sql(`SELECT id || ':' || status FROM credentials WHERE id IN (${ids.join(',')}) ORDER BY id`).split('\n');
    const last = ids[ids.length - 1];
    expect(stored).toEqual(ids.map((id) => `${id}:${id === last ? 'active' : 'retired'}`));

    expect((await fetch(`${survivor.base}/healthz`)).status).toBe(200);
    expect((await verify(proxy, reader.authorization)).status).toBe(200);
  }, 60_000);

  it('ran deploy/nginx.conf without a warning', () => {
    const log = fs.readFileSync(path.join(dir, 'logs', 'error.log'), 'utf8');
    // The replica killed on purpose is the only thing nginx may complain about: its connections refused, reset
    // or closed, and so it was set aside for a while.
    const expected = /(Connection refused|Connection reset by peer|upstream prematurely closed|upstream server temporarily disabled)/;
    const lines = log.split('\n').filter((line) => /\[(warn|error|crit|alert|emerg)\]/.test(line));
    expect(lines.filter((line) => !expected.test(line))).toEqual([]);
    expect(lines.filter((line) => !line.includes(victimUpstream))).toEqual([]);
  });
});

/** compose.yaml cannot run here (no Docker engine): what it must keep in step with is checked as text. */
describe('compose.yaml', () => {
  const root = path.join(__dirname, '..');
  const compose = fs.readFileSync(path.join(root, 'compose.yaml'), 'utf8');

  it('gives the replicas the image’s own /healthz check', () => {
    const dockerfile = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    const script = /CMD \["node", "-e", "([^"]+)"\]/.exec(dockerfile)?.[1];
    expect(script).toContain('/healthz');
    expect(compose).toContain(`test: ['CMD', 'node', '-e', "${script}"]`);
    expect(compose).toContain('build: .');
  });

  it('runs PostgreSQL 15 on a named volume with pg_isready, and nginx with the tested deploy/nginx.conf', () => {
    expect(compose).toContain('image: postgres:15');
    expect(compose).toContain('- postgres-data:/var/lib/postgresql/data');
    expect(compose).toContain("test: ['CMD', 'pg_isready', '-U', 'console', '-d', 'console']");
    expect(compose).toContain('- ./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro');
    for (const replica of ['console-1', 'console-2']) expect(compose).toContain(`  ${replica}:\n    <<: *console\n    volumes:\n      - ${replica}-data:/data`);
  });
});
