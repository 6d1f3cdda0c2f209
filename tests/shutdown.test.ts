import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcrypt';
import Database from 'better-sqlite3';
import { systemClock } from '../src/clock';
import { wrapSqlite } from '../src/db/connect';
import { migrateSqlite } from '../src/db/migrate';
import { openDatabase } from '../src/db/open';
import { AuditLog, SYSTEM_ACTOR } from '../src/features/audit/service';
import * as authRepo from '../src/features/auth/repo';
import { createCompanyGrantingAllScopes } from '../src/features/companies/service';
import { generateApiKeyFor, saveCredential } from '../src/features/credentials/service';
import { csrfFrom } from './helpers';
import { ensureBuilt, freePort, startServer } from './ops-support';

/**
 * Graceful shutdown of the real built server: SIGTERM while 200 keep-alive clients and a few slow
 * sign-ins (bcrypt) are running. Clients behave like a load balancer's: they send the next request
 * on the same connection until an answer says `Connection: close`.
 */
const CLIENTS = 200;
const SLOW_CLIENTS = 8;
const PASSWORD = 'shutdown test password';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

describe('graceful shutdown on SIGTERM under load', () => {
  let dataDir: string;
  let key: string;
  let credentialId: number;

  beforeAll(async () => {
    ensureBuilt();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-shutdown-'));
    const connection = wrapSqlite(openDatabase(path.join(dataDir, 'console.sqlite')));
    const db = connection.sqlite!;
    migrateSqlite(db);
    const companyId = await createCompanyGrantingAllScopes({ db: connection.db }, 'Shutdown Ltd', Date.now());
    // One account per slow client: sign-in counts every attempt against its account before bcrypt
    // (5 per account), so more parallel sign-ins on one account than that are refused by design.
    const passwordHash = bcrypt.hashSync(PASSWORD, 10);
    for (let n = 0; n < SLOW_CLIENTS; n++) {
      await authRepo.createUser(connection.db, { companyId, email: `admin${n}@shutdown.test`, passwordHash, isOperator: true }, Date.now());
    }
    const deps = { db: connection.db, clock: systemClock, audit: new AuditLog(connection.db, systemClock), mailer: { send: () => Promise.resolve(0) } };
    const generated = await generateApiKeyFor(deps, companyId, 'shutdown-api', SYSTEM_ACTOR);
    await saveCredential(deps, companyId, 'basic', generated.credential.id, 'none', SYSTEM_ACTOR);
    key = generated.secret;
    credentialId = generated.credential.id;
    await connection.close();
  }, 240_000);

  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('answers every request, resets no connection, flushes last-used times, closes the database, exits 0', async () => {
    const port = await freePort();
    const server = await startServer(
      { DATA_DIR: dataDir, PUBLIC_URL: `http://127.0.0.1:${port}`, SESSION_SECRET: 'shutdown-test-session-secret-0123456789ab', LOG_LEVEL: 'info' },
      port,
    );
    const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS + SLOW_CLIENTS });
    const authorization = `Basic ${Buffer.from(`shutdown-api:${key}`).toString('base64')}`;

    const request = (method: string, pathname: string, headers: Record<string, string> = {}, body?: string) =>
      new Promise<Answer>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method, path: pathname, agent, headers }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(body);
      });

    const tally = { sent: 0, answered: 0, errors: [] as string[], statuses: new Map<string, number>(), closeSeen: 0 };
    let lastMeSentAt = 0;
    let signInsInFlightAtTerm = 0;
    let signInsInFlight = 0;
    const count = (label: string) => tally.statuses.set(label, (tally.statuses.get(label) ?? 0) + 1);

    /** One exchange; `more` is false when the answer says the connection closes (the server drains): the client stops. */
    const exchange = async (label: string, send: () => Promise<Answer>, expected: number[]): Promise<{ more: boolean; status?: number }> => {
      tally.sent++;
      try {
        const answer = await send();
        tally.answered++;
        count(`${label} ${answer.status}`);
        if (!expected.includes(answer.status)) tally.errors.push(`${label}: unexpected ${answer.status} ${answer.body.slice(0, 100)}`);
        const more = answer.headers.connection !== 'close';
        if (!more) tally.closeSeen++;
        return { more, status: answer.status };
      } catch (err) {
        tally.errors.push(`${label}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        return { more: false };
      }
    };

    const fastClient = async (n: number) => {
      for (;;) {
        if (n % 4 === 0) {
          if (!(await exchange('healthz', () => request('GET', '/healthz'), [200, 503])).more) return;
        } else {
          const sentAt = Date.now();
          const { more, status } = await exchange('me', () => request('GET', '/api/v1/me', { Authorization: authorization }), [200]);
          if (status === 200) lastMeSentAt = Math.max(lastMeSentAt, sentAt);
          if (!more) return;
        }
      }
    };
    // The slow path: a sign-in spends ~50-100 ms in bcrypt, off the event loop.
    const slowClient = async (n: number) => {
      for (;;) {
        let page: Answer | undefined;
        if (!(await exchange('sign-in page', async () => (page = await request('GET', '/sign-in')), [200])).more) return;
        const cookie = String(page!.headers['set-cookie']?.[0] ?? '').split(';')[0];
        const form = new URLSearchParams({ _csrf: csrfFrom(page!.body), email: `admin${n}@shutdown.test`, password: PASSWORD }).toString();
        signInsInFlight++;
        const { more } = await exchange(
          'sign-in',
          () => request('POST', '/sign-in', { Cookie: cookie, 'Content-Type': 'application/x-www-form-urlencoded' }, form),
          [303],
        );
        signInsInFlight--;
        if (!more) return;
      }
    };

    const clients = [...Array.from({ length: CLIENTS }, (_, n) => fastClient(n)), ...Array.from({ length: SLOW_CLIENTS }, (_, n) => slowClient(n))];
    await new Promise((r) => setTimeout(r, 1500));
    // SIGTERM while at least one sign-in is in bcrypt (the slow path), so in-flight work must finish.
    for (const until = Date.now() + 15000; signInsInFlight === 0 && Date.now() < until;) await new Promise((r) => setImmediate(r));
    const sentBeforeTerm = tally.sent;
    signInsInFlightAtTerm = signInsInFlight;
    server.child.kill('SIGTERM');
    await Promise.all(clients);
    const exit = await server.exited;
    agent.destroy();

    console.log(
      `graceful shutdown: ${tally.sent} requests (${sentBeforeTerm} before SIGTERM) on ${CLIENTS + SLOW_CLIENTS} keep-alive clients, ` +
        `${tally.answered} answered, ${tally.errors.length} errors/resets; ${signInsInFlightAtTerm} sign-ins in bcrypt at SIGTERM; ` +
        `answers: ${JSON.stringify(Object.fromEntries(tally.statuses))}`,
    );
    expect(tally.errors).toEqual([]);
    expect(tally.answered).toBe(tally.sent);
    expect(tally.closeSeen).toBe(CLIENTS + SLOW_CLIENTS); // every client was told to close, none was cut off
    expect(sentBeforeTerm).toBeGreaterThan(CLIENTS);
    expect(signInsInFlightAtTerm).toBeGreaterThan(0);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(server.output()).toContain('stopped cleanly');

    // The database was closed cleanly (its -wal checkpointed away), the last-used time flushed, the lock released.
    expect(fs.existsSync(path.join(dataDir, 'console.sqlite-wal'))).toBe(false);
    expect(fs.readdirSync(dataDir).filter((f) => f.endsWith('.lock'))).toEqual([]);
    const db = new Database(path.join(dataDir, 'console.sqlite'), { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const lastUsed = db.prepare('SELECT last_used_at FROM credentials WHERE id = ?').pluck().get(credentialId) as number;
    db.close();
    expect(lastMeSentAt).toBeGreaterThan(0);
    expect(lastUsed).toBeGreaterThanOrEqual(lastMeSentAt);
  }, 120_000);
});
