// Prepares a data directory for the real console server (dist/src/server.js), in its own process so
// that seeding never counts in the server's memory:
//   node seed-console.js N DIR [DIST]   DIR/console.sqlite with N other companies' credentials, plus
//                                       one Basic key and one OAuth client to call with, and an
//                                       operator so that the server starts without asking for setup
// DIST is the build whose own modules (schema, migrations, services) seed the data: this checkout's
// dist/ by default, or a baseline's (`npm run bench -- --baseline`), so that each build is seeded
// the way its own code stores credentials.
// Prints one JSON line: the credential count and the caller's credentials (bench-only secrets).
'use strict';
const path = require('node:path');
const nodeCrypto = require('node:crypto');

const [count, dataDir, distArg] = process.argv.slice(2);
if (!/^\d+$/.test(count || '') || !dataDir) {
  process.stderr.write('usage: node seed-console.js N DIR [DIST]\n');
  process.exit(2);
}
const dist = path.resolve(distArg || path.join(__dirname, '..', '..', 'dist'));
const load = (module) => require(path.join(dist, 'src', module));
const { openDatabase } = load('db/open');
const migrations = load('db/migrate');
// Builds before the two-engine data layer had a synchronous migrate(db); later ones call it migrateSqlite.
const migrate = migrations.migrateSqlite || migrations.migrate;
const { systemClock } = load('clock');
const { AuditLog, SYSTEM_ACTOR } = load('features/audit/service');
const authRepo = load('features/auth/repo');
const companies = load('features/companies/service');
const credentials = load('features/credentials/service');

const silentMailer = { send: () => 0 };

/** Other companies' working credentials (a Basic key and an OAuth client each), so lookups run against a table of realistic size. */
function seedOthers(db, count, now) {
  const insertCompany = db.prepare('INSERT INTO companies (name, created_at) VALUES (?, ?)');
  const insertCredential = db.prepare(
    `INSERT INTO credentials (company_id, kind, identifier, secret_prefix, secret_hash, scopes, status, created_at, saved_at)
     VALUES (?, ?, ?, ?, ?, 'claims:read', 'active', ?, ?)`,
  );
  db.transaction(() => {
    for (let i = 0; i < count; i += 2) {
      const companyId = insertCompany.run(`Bench company ${i}`, now).lastInsertRowid;
      insertCredential.run(companyId, 'basic', `bench-user-${i}`, 'cxk_bench0', nodeCrypto.randomBytes(32), now, now);
      insertCredential.run(companyId, 'oauth', `cxc_bench${String(i).padStart(21, '0')}`, 'cxs_bench0', nodeCrypto.randomBytes(32), now, now);
    }
  })();
}

/** A company with every scope, through whichever function the seeded build has (builds before 2ad85cb did it in auth/repo). */
function createCompanyGrantingAllScopes(db, name, now) {
  if (typeof companies.createCompanyGrantingAllScopes === 'function') return companies.createCompanyGrantingAllScopes({ db }, name, now);
  const companyId = authRepo.createCompany(db, name, now);
  authRepo.grantAllScopes(db, companyId);
  return companyId;
}

/** The caller's own company and credentials, made through the real service. */
function seedCaller(db, now) {
  const deps = { db, clock: systemClock, audit: new AuditLog(db, systemClock), mailer: silentMailer };
  const companyId = createCompanyGrantingAllScopes(db, 'Bench Inc', now);
  authRepo.createUser(db, { companyId, email: 'operator@bench.invalid', passwordHash: null, isOperator: true }, now);
  const basic = credentials.generateApiKeyFor(deps, companyId, 'bench-caller', SYSTEM_ACTOR);
  credentials.saveCredential(deps, companyId, 'basic', basic.credential.id, 'none', SYSTEM_ACTOR);
  const oauth = credentials.generateClientCredentials(deps, companyId, undefined, SYSTEM_ACTOR);
  credentials.saveCredential(deps, companyId, 'oauth', oauth.credential.id, 'none', SYSTEM_ACTOR);
  return { username: 'bench-caller', apiKey: basic.secret, clientId: oauth.credential.identifier, clientSecret: oauth.secret };
}

const db = openDatabase(path.join(dataDir, 'console.sqlite'));
migrate(db);
const now = Date.now();
seedOthers(db, Number(count), now);
const caller = seedCaller(db, now);
const credentialCount = db.prepare('SELECT COUNT(*) FROM credentials').pluck().get();
db.close();
process.stdout.write(JSON.stringify({ credentialCount, ...caller }) + '\n');
