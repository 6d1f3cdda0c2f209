import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import bcrypt from 'bcrypt';
import request from 'supertest';
import type { Express } from 'express';
import { createApp } from '../src/app';
import { closeApp } from '../src/lifecycle';
import type { AppDeps } from '../src/app';
import { FakeClock } from '../src/clock';
import type { Config } from '../src/config';
import { loadConfig } from '../src/config';
import { migrate } from '../src/db/migrate';
import { openDatabase } from '../src/db/open';
import type { Db } from '../src/db/open';
import { createLogger } from '../src/log';
import * as authRepo from '../src/features/auth/repo';
import { createCompanyGrantingAllScopes } from '../src/features/companies/service';

export const PASSWORD = 'correct horse battery staple';
const PASSWORD_HASH = bcrypt.hashSync(PASSWORD, 10);

export interface TestContext {
  app: Express;
  db: Db;
  clock: FakeClock;
  config: Config;
  dataDir: string;
  /** Everything the app logged, as one string (for scanning for secrets). */
  logs: () => string;
  close: () => void;
}

/** A fresh data directory, migrated database, fake clock and captured log for one test file or test. */
export function createTestContext(env: Record<string, string> = {}, overrides: Partial<AppDeps> = {}): TestContext {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-test-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    SESSION_SECRET: 'test-session-secret-that-is-long-enough-0123456789',
    BCRYPT_COST: '10',
    LOG_LEVEL: 'info',
    PUBLIC_URL: 'http://127.0.0.1:3000',
    ...env,
  });
  const db = openDatabase(config.databaseFile);
  migrate(db);
  const clock = new FakeClock(Date.UTC(2026, 10, 1, 9, 0, 0));
  let captured = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      captured += chunk.toString();
      cb();
    },
  });
  const logger = createLogger('debug', sink);
  const app = createApp({ config, db, clock, logger, ...overrides });
  return {
    app,
    db,
    clock,
    config,
    dataDir,
    logs: () => captured,
    close: () => {
      closeApp(app);
      db.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface SeededUser {
  companyId: number;
  userId: number;
  email: string;
}

/** A company with one administrator (password PASSWORD), written straight to the database. */
export function seedCompany(db: Db, name: string, email: string, options: { operator?: boolean } = {}): SeededUser {
  const now = Date.UTC(2026, 10, 1);
  const companyId = createCompanyGrantingAllScopes({ db }, name, now);
  const userId = authRepo.createUser(db, { companyId, email, passwordHash: PASSWORD_HASH, isOperator: options.operator ?? false }, now);
  return { companyId, userId, email };
}

export function seedUser(db: Db, companyId: number, email: string, options: { operator?: boolean } = {}): SeededUser {
  const userId = authRepo.createUser(db, { companyId, email, passwordHash: PASSWORD_HASH, isOperator: options.operator ?? false }, Date.UTC(2026, 10, 1));
  return { companyId, userId, email };
}

/** Reads the CSRF token a page carries (hidden field or hx-headers). */
export function csrfFrom(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html) ?? /"X-CSRF-Token": "([^"]+)"/.exec(html);
  if (!match) throw new Error('no CSRF token in page');
  return match[1];
}

export type Agent = ReturnType<typeof request.agent> & { csrf: string };

/** A cookie-keeping agent with a fresh CSRF token, not signed in. */
export async function anonymousAgent(app: Express): Promise<Agent> {
  const agent = request.agent(app) as Agent;
  const page = await agent.get('/sign-in');
  agent.csrf = csrfFrom(page.text);
  return agent;
}

/** A signed-in agent; `agent.csrf` is the token for the new session. */
export async function signIn(app: Express, email: string, password = PASSWORD): Promise<Agent> {
  const agent = await anonymousAgent(app);
  const res = await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email, password });
  if (res.status !== 303) throw new Error(`sign-in failed for ${email}: ${res.status}`);
  const page = await agent.get('/audit');
  agent.csrf = csrfFrom(page.text);
  return agent;
}
