import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcrypt';
import Database from 'better-sqlite3';
import { wrapSqlite } from '../src/db/connect';
import { migrateSqlite } from '../src/db/migrate';
import { openDatabase } from '../src/db/open';
import * as authRepo from '../src/features/auth/repo';
import { createCompanyGrantingAllScopes } from '../src/features/companies/service';
import { fieldValue, saveIdIn } from './credentials-helpers';
import { csrfFrom } from './helpers';
import { ensureBuilt, freePort, startServer } from './ops-support';
import type { RunningServer } from './ops-support';

/**
 * Crash durability, against the real built server: saves, rotations and token requests run under
 * load, the server is killed with SIGKILL at a random moment, restarted, and the database is
 * checked. Bounded: KILLS cycles, each a fraction of a second of load.
 */
const KILLS = 20;
/** On a starved machine fewer kills fit; the test stops starting new cycles after this, and needs at least MIN_KILLS. */
const BUDGET_MS = 150_000;
const MIN_KILLS = 8;
const COMPANIES = 4;
const SCOPES = ['claims:read', 'claims:write', 'documents:read', 'documents:write'];
const PASSWORD = 'crash test password 1';

type Kind = 'basic' | 'oauth';
const ROUTE: Record<Kind, string> = { basic: 'basic-auth', oauth: 'oauth' };

interface Session {
  email: string;
  companyId: number;
  cookie: string;
  csrf: string;
}

interface Generated {
  id: number;
  kind: Kind;
  companyId: number;
  identifier: string;
  secret: string;
}

// The sign-in page sets its form's console.csrf cookie (no session); sign-in sets console.sid.
const cookieOf = (res: Response): string | undefined =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .find((c) => /^console\.(sid|csrf)=/.test(c));

async function signIn(base: string, email: string, companyId: number): Promise<Session> {
  const page = await fetch(`${base}/sign-in`);
  const cookie = cookieOf(page)!;
  const res = await fetch(`${base}/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { Cookie: cookie, Origin: base, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrfFrom(await page.text()), email, password: PASSWORD }),
  });
  if (res.status !== 303) throw new Error(`sign-in failed: ${res.status}`);
  const session = cookieOf(res)!;
  const api = await fetch(`${base}/admin/api`, { headers: { Cookie: session } });
  return { email, companyId, cookie: session, csrf: csrfFrom(await api.text()) };
}

function postForm(base: string, session: Session, route: string, form: [string, string][]): Promise<Response> {
  return fetch(`${base}${route}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { Cookie: session.cookie, Origin: base, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams([['_csrf', session.csrf], ...form]),
  });
}

const basicHeader = (user: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(user)}:${encodeURIComponent(secret)}`).toString('base64')}`;

describe('crash durability: SIGKILL at random moments under load', () => {
  let dataDir: string;
  let port: number;
  let env: Record<string, string>;
  const emails: { email: string; companyId: number }[] = [];

  beforeAll(async () => {
    ensureBuilt();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-crash-'));
    port = await freePort();
    env = {
      DATA_DIR: dataDir,
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      ADMIN_EMAIL: 'operator@crash.test',
      ADMIN_PASSWORD: PASSWORD,
      SESSION_SECRET: 'crash-test-session-secret-0123456789abcdef',
    };
    // Companies and their administrators, written before the first start (as an operator would invite them).
    const connection = wrapSqlite(openDatabase(path.join(dataDir, 'console.sqlite')));
    const database = connection.db;
    migrateSqlite(connection.sqlite!);
    const hash = bcrypt.hashSync(PASSWORD, 10);
    for (let i = 1; i <= COMPANIES; i++) {
      const companyId = await createCompanyGrantingAllScopes({ db: database }, `Crash company ${i}`, Date.now());
      const email = `admin${i}@crash.test`;
      await authRepo.createUser(database, { companyId, email, passwordHash: hash, isOperator: false }, Date.now());
      emails.push({ email, companyId });
    }
    await connection.close();
  }, 240_000);

  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it(`survives up to ${KILLS} kills: integrity ok, every acknowledged save kept, never neither nor two active credentials`, async () => {
    const generated = new Map<number, Generated>(); // every credential generated, by id (secrets stay in this process)
    const acknowledged: Generated[] = []; // saves the server answered 303 to
    const stats = { kills: 0, saveAcks: 0, savesInFlightAtKill: 0, tokens: 0, meCalls: 0, serverErrors: 0, startMs: [] as number[] };
    let sessions: Session[] = [];
    const startedAt = Date.now();

    for (let cycle = 0; cycle < KILLS && Date.now() - startedAt < BUDGET_MS; cycle++) {
      const t0 = Date.now();
      const server: RunningServer = await startServer(env, port);
      stats.startMs.push(Date.now() - t0);
      const base = server.base;

      // After a restart (the first one included), the database must be whole and consistent.
      checkDatabase(path.join(dataDir, 'console.sqlite'), acknowledged);
      await checkActiveCredentialsWork(base, dataDir, generated);

      // Sessions live in the database: sign in once, keep the cookies across restarts.
      if (sessions.length === 0) sessions = await Promise.all(emails.map((e) => signIn(base, e.email, e.companyId)));

      let stopped = false;
      let inFlightSaves = 0;
      const latest = new Map<string, Generated>(); // `${companyId}:${kind}` -> last acknowledged
      for (const g of acknowledged) latest.set(`${g.companyId}:${g.kind}`, g);

      const saver = async (session: Session) => {
        while (!stopped) {
          const kind: Kind = Math.random() < 0.5 ? 'basic' : 'oauth';
          const form: [string, string][] = kind === 'basic' ? [['username', `crash-co${session.companyId}`]] : SCOPES.map((s) => ['scopes', s]);
          const gen = await postForm(base, session, `/admin/api/${ROUTE[kind]}/generate`, form);
          const html = await gen.text();
          if (gen.status >= 500) stats.serverErrors++;
          if (gen.status !== 200) throw new Error(`generate answered ${gen.status}`);
          const id = saveIdIn(html, ROUTE[kind] as 'basic-auth' | 'oauth');
          const g: Generated =
            kind === 'basic'
              ? { id, kind, companyId: session.companyId, identifier: `crash-co${session.companyId}`, secret: fieldValue(html, 'basic-key')! }
              : { id, kind, companyId: session.companyId, identifier: fieldValue(html, 'oauth-client-id')!, secret: fieldValue(html, 'oauth-client-secret')! };
          generated.set(id, g);
          inFlightSaves++;
          const overlap = Math.random() < 0.5 ? 'none' : '1h';
          const saved = await postForm(base, session, `/admin/api/${ROUTE[kind]}/${id}/save`, [['overlap', overlap]]);
          inFlightSaves--;
          if (saved.status >= 500) stats.serverErrors++;
          if (saved.status === 303) {
            acknowledged.push(g);
            latest.set(`${g.companyId}:${kind}`, g);
            stats.saveAcks++;
          }
          await saved.arrayBuffer();
        }
      };
      const tokenCaller = async (companyId: number) => {
        while (!stopped) {
          const client = latest.get(`${companyId}:oauth`);
          const key = latest.get(`${companyId}:basic`);
          if (client) {
            const res = await fetch(`${base}/oauth/token`, {
              method: 'POST',
              headers: { Authorization: basicHeader(client.identifier, client.secret), 'Content-Type': 'application/x-www-form-urlencoded' },
              body: 'grant_type=client_credentials',
            });
            if (res.status >= 500) stats.serverErrors++;
            if (res.status === 200) stats.tokens++;
            await res.arrayBuffer();
          }
          if (key) {
            const res = await fetch(`${base}/api/v1/me`, { headers: { Authorization: basicHeader(key.identifier, key.secret) } });
            if (res.status >= 500) stats.serverErrors++;
            if (res.status === 200) stats.meCalls++;
            await res.arrayBuffer();
          }
          if (!client && !key) await new Promise((r) => setTimeout(r, 10));
        }
      };
      const swallow = (p: Promise<void>) => p.catch(() => undefined); // the kill cuts requests short: expected
      const load = [...sessions.map((s) => swallow(saver(s))), ...emails.map((e) => swallow(tokenCaller(e.companyId)))];

      await new Promise((r) => setTimeout(r, 150 + Math.random() * 850));
      stats.savesInFlightAtKill += inFlightSaves;
      server.child.kill('SIGKILL');
      const exit = await server.exited;
      expect(exit.signal).toBe('SIGKILL');
      stopped = true;
      await Promise.all(load);
      stats.kills++;
    }

    // A last start: the state after the twentieth kill is checked too, then a clean stop.
    const server = await startServer(env, port);
    checkDatabase(path.join(dataDir, 'console.sqlite'), acknowledged);
    await checkActiveCredentialsWork(server.base, dataDir, generated);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
    checkDatabase(path.join(dataDir, 'console.sqlite'), acknowledged);

    const seconds = Math.round((Date.now() - startedAt) / 1000);
    console.log(
      `crash durability: ${stats.kills} SIGKILLs survived in ${seconds} s; ${stats.saveAcks} acknowledged saves all kept; ` +
        `${stats.savesInFlightAtKill} saves in flight at the kills; ${stats.tokens} tokens and ${stats.meCalls} /api/v1/me answers served; ` +
        `median start ${stats.startMs.sort((a, b) => a - b)[Math.floor(stats.startMs.length / 2)]} ms`,
    );
    expect(stats.kills).toBeGreaterThanOrEqual(MIN_KILLS);
    expect(stats.saveAcks).toBeGreaterThan(stats.kills); // the load really saved, again and again
    expect(stats.tokens + stats.meCalls).toBeGreaterThan(0);
    expect(stats.serverErrors).toBe(0);
  }, 240_000);
});

interface Row {
  id: number;
  company_id: number;
  kind: Kind;
  status: string;
  replaces_id: number | null;
  saved_at: number | null;
  retires_at: number | null;
}

/** The invariants a crash must never break, read straight from the file. */
function checkDatabase(file: string, acknowledged: Generated[]): void {
  const db = new Database(file, { readonly: true });
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.pragma('foreign_key_check')).toEqual([]);
    const rows = db.prepare('SELECT id, company_id, kind, status, replaces_id, saved_at, retires_at FROM credentials').all() as Row[];
    const byId = new Map(rows.map((r) => [r.id, r]));

    // Every acknowledged save is there, saved (it may have been replaced since, by a later save).
    for (const g of acknowledged) {
      const row = byId.get(g.id);
      expect(row && { id: row.id, saved: row.saved_at !== null, status: row.status }).toEqual({
        id: g.id,
        saved: true,
        status: expect.stringMatching(/^(active|retiring|retired)$/),
      });
    }
    // Never two active credentials of a kind in a company, and never none once one was saved.
    const everSaved = new Set(rows.filter((r) => r.saved_at !== null).map((r) => `${r.company_id}:${r.kind}`));
    for (const key of everSaved) {
      const active = rows.filter((r) => `${r.company_id}:${r.kind}` === key && r.status === 'active');
      expect({ key, active: active.length }).toEqual({ key, active: 1 });
    }
    for (const r of rows) {
      // No half-applied rotation: an active one's predecessor has stepped down, and every saved one was saved whole.
      if (r.status === 'active' && r.replaces_id !== null) {
        expect({ id: r.id, predecessor: byId.get(r.replaces_id)?.status }).toEqual({
          id: r.id,
          predecessor: expect.stringMatching(/^(retiring|retired|revoked)$/),
        });
      }
      if (r.status === 'retiring') expect({ id: r.id, retiresAt: typeof r.retires_at }).toEqual({ id: r.id, retiresAt: 'number' });
      if (['active', 'retiring', 'retired'].includes(r.status)) expect({ id: r.id, savedAt: typeof r.saved_at }).toEqual({ id: r.id, savedAt: 'number' });
    }
  } finally {
    db.close();
  }
}

/** The credential the database says is active really works against the restarted server. */
async function checkActiveCredentialsWork(base: string, dataDir: string, generated: Map<number, Generated>): Promise<void> {
  const db = new Database(path.join(dataDir, 'console.sqlite'), { readonly: true });
  const active = db.prepare("SELECT id FROM credentials WHERE status = 'active'").pluck().all() as number[];
  db.close();
  for (const id of active) {
    const g = generated.get(id);
    expect(g).toBeDefined(); // only credentials this test generated can be active
    if (g!.kind === 'basic') {
      const res = await fetch(`${base}/api/v1/me`, { headers: { Authorization: basicHeader(g!.identifier, g!.secret) } });
      expect({ id, status: res.status }).toEqual({ id, status: 200 });
    } else {
      const res = await fetch(`${base}/oauth/token`, {
        method: 'POST',
        headers: { Authorization: basicHeader(g!.identifier, g!.secret), 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      });
      expect({ id, status: res.status }).toEqual({ id, status: 200 });
    }
  }
}
