// Child process for `npm run bench`, in two steps so that seeding never counts in the server's memory:
//   node console-server.js seed N DIR    prepares DIR/console.sqlite with N other companies'
//                                        credentials plus one Basic key and one OAuth client to call with
//   node console-server.js serve DIR PORT serves the real console app (built in dist/) with a no-op
//                                        route in the same Express process
// Each step prints one JSON line.
'use strict';
const path = require('node:path');
const { randomBytes } = require('node:crypto');
const http = require('node:http');
const express = require('express');
const { createApp } = require('../dist/src/app');
const { closeApp } = require('../dist/src/lifecycle');
const { loadConfig } = require('../dist/src/config');
const { openDatabase } = require('../dist/src/db/open');
const { migrate } = require('../dist/src/db/migrate');
const { systemClock } = require('../dist/src/clock');
const { createLogger } = require('../dist/src/log');
const { AuditLog, SYSTEM_ACTOR } = require('../dist/src/features/audit/service');
const authRepo = require('../dist/src/features/auth/repo');
const credentials = require('../dist/src/features/credentials/service');

const silentMailer = { send: () => 0 };

function seed(count, dataDir) {
  const db = openDatabase(path.join(dataDir, 'console.sqlite'));
  migrate(db);
  const now = Date.now();
  const insertCompany = db.prepare('INSERT INTO companies (name, created_at) VALUES (?, ?)');
  const insertCredential = db.prepare(
    `INSERT INTO credentials (company_id, kind, identifier, secret_prefix, secret_hash, scopes, status, created_at, saved_at)
     VALUES (?, ?, ?, ?, ?, 'claims:read', 'active', ?, ?)`,
  );
  // Other companies' working credentials (a Basic key and an OAuth client each), so lookups run
  // against a table of realistic size.
  db.transaction(() => {
    for (let i = 0; i < count; i += 2) {
      const companyId = insertCompany.run(`Bench company ${i}`, now).lastInsertRowid;
      insertCredential.run(companyId, 'basic', `bench-user-${i}`, 'cxk_bench0', randomBytes(32), now, now);
      insertCredential.run(companyId, 'oauth', `cxc_bench${String(i).padStart(21, '0')}`, 'cxs_bench0', randomBytes(32), now, now);
    }
  })();
  // The caller's own credentials, made through the real service.
  const deps = { db, clock: systemClock, audit: new AuditLog(db, systemClock), mailer: silentMailer };
  const companyId = authRepo.createCompany(db, 'Bench Inc', now);
  authRepo.grantAllScopes(db, companyId);
  const basic = credentials.generateApiKeyFor(deps, companyId, 'bench-caller', SYSTEM_ACTOR);
  credentials.saveCredential(deps, companyId, 'basic', basic.credential.id, 'none', SYSTEM_ACTOR);
  const oauth = credentials.generateClientCredentials(deps, companyId, undefined, SYSTEM_ACTOR);
  credentials.saveCredential(deps, companyId, 'oauth', oauth.credential.id, 'none', SYSTEM_ACTOR);
  const credentialCount = db.prepare('SELECT COUNT(*) FROM credentials').pluck().get();
  db.close();
  return { credentialCount, username: 'bench-caller', apiKey: basic.secret, clientId: oauth.credential.identifier, clientSecret: oauth.secret };
}

function serve(dataDir, port) {
  const config = loadConfig({
    DATA_DIR: dataDir,
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    LOG_LEVEL: 'warn',
    SESSION_SECRET: 'bench-session-secret-0123456789abcdefghijklmnop',
  });
  const db = openDatabase(config.databaseFile);
  const app = createApp({ config, db, clock: systemClock, logger: createLogger('warn'), mailer: silentMailer });
  const outer = express();
  outer.disable('x-powered-by');
  outer.get('/bench/noop', (_req, res) => {
    res.json({ ok: true });
  });
  outer.use(app);
  const server = http.createServer(outer);
  server.keepAliveTimeout = 30_000;
  server.listen(port, '127.0.0.1', () => process.stdout.write(JSON.stringify({ ready: true, port }) + '\n'));
  const stop = () => {
    server.close();
    closeApp(app);
    db.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const [mode, a, b] = process.argv.slice(2);
if (mode === 'seed') {
  process.stdout.write(JSON.stringify({ ready: true, ...seed(Number(a), b) }) + '\n');
  process.exit(0);
} else if (mode === 'serve') {
  serve(a, Number(b));
} else {
  process.stderr.write('usage: console-server.js seed N DIR | serve DIR PORT\n');
  process.exit(2);
}
