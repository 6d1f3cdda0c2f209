// Child process for `npm run bench`: the real console app (built in dist/) plus a no-op route in the
// same Express process, on a fresh database seeded with N extra credentials. Prints one JSON line
// with the port and the credentials to use, then serves until killed.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
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

const extra = Number(process.argv[2] || 100);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-bench-'));
const port = Number(process.argv[3]);
const config = loadConfig({ DATA_DIR: dataDir, PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, LOG_LEVEL: 'warn', SESSION_SECRET: crypto.randomBytes(32).toString('hex') });
const db = openDatabase(config.databaseFile);
migrate(db);

// N other companies' working credentials, so lookups run against a realistic table size.
function seed(count) {
  const now = Date.now();
  const insertCompany = db.prepare('INSERT INTO companies (name, created_at) VALUES (?, ?)');
  const insertCredential = db.prepare(
    `INSERT INTO credentials (company_id, kind, identifier, secret_prefix, secret_hash, scopes, status, created_at, saved_at)
     VALUES (?, ?, ?, ?, ?, 'claims:read', 'active', ?, ?)`,
  );
  db.transaction(() => {
    for (let i = 0; i < count; i += 2) {
      const companyId = insertCompany.run(`Bench company ${i}`, now).lastInsertRowid;
      insertCredential.run(companyId, 'basic', `bench-user-${i}`, 'cxk_bench0', crypto.randomBytes(32), now, now);
      insertCredential.run(companyId, 'oauth', `cxc_bench${String(i).padStart(21, '0')}`, 'cxs_bench0', crypto.randomBytes(32), now, now);
    }
  })();
}
seed(extra);

const audit = new AuditLog(db, systemClock);
const mailer = { send: () => 0 };
const deps = { db, clock: systemClock, audit, mailer };
const companyId = authRepo.createCompany(db, 'Bench Inc', Date.now());
authRepo.grantAllScopes(db, companyId);
const basic = credentials.generateApiKeyFor(deps, companyId, 'bench-caller', SYSTEM_ACTOR);
credentials.saveCredential(deps, companyId, 'basic', basic.credential.id, 'none', SYSTEM_ACTOR);
const oauth = credentials.generateClientCredentials(deps, companyId, undefined, SYSTEM_ACTOR);
credentials.saveCredential(deps, companyId, 'oauth', oauth.credential.id, 'none', SYSTEM_ACTOR);

const app = createApp({ config, db, clock: systemClock, logger: createLogger('warn'), mailer });
const outer = express();
outer.disable('x-powered-by');
outer.get('/bench/noop', (_req, res) => {
  res.json({ ok: true });
});
outer.use(app);
const server = http.createServer(outer);
server.keepAliveTimeout = 30_000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(
    JSON.stringify({
      ready: true,
      port,
      credentialCount: db.prepare('SELECT COUNT(*) FROM credentials').pluck().get(),
      username: 'bench-caller',
      apiKey: basic.secret,
      clientId: oauth.credential.identifier,
      clientSecret: oauth.secret,
    }) + '\n',
  );
});
const stop = () => {
  server.close();
  closeApp(app);
  db.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
