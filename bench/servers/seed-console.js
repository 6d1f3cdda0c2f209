// Prepares the database for the real console server (dist/src/server.js), in its own process so
// that seeding never counts in the server's memory:
//   node seed-console.js N DIR [DIST]   N other companies' credentials, plus one Basic key and one
//                                       OAuth client to call with, and an operator so that the server
//                                       starts without asking for setup
// The database is DIR/console.sqlite, or the PostgreSQL database DATABASE_URL names when it is set.
// DIST is the build whose own modules (schema, migrations, services) seed the data: this checkout's
// dist/ by default, or a baseline's (`npm run bench -- --baseline`), so that each build is seeded
// the way its own code stores credentials.
// Prints one JSON line: the credential count and the caller's credentials (bench-only secrets).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const nodeCrypto = require('node:crypto');

const [count, dataDir, distArg] = process.argv.slice(2);
if (!/^\d+$/.test(count || '') || !dataDir) {
  process.stderr.write('usage: [DATABASE_URL=postgres://...] node seed-console.js N DIR [DIST]\n');
  process.exit(2);
}
const dist = path.resolve(distArg || path.join(__dirname, '..', '..', 'dist'));
const load = (module) => require(path.join(dist, 'src', module));
const has = (module) => fs.existsSync(path.join(dist, 'src', `${module}.js`));
const { systemClock } = load('clock');
const { AuditLog, SYSTEM_ACTOR } = load('features/audit/service');
const authRepo = load('features/auth/repo');
const companies = load('features/companies/service');
const credentials = load('features/credentials/service');

const silentMailer = { send: () => 0 };
const BATCH = 500;

/** Other companies' working credentials (a Basic key and an OAuth client each), so lookups run against a table of realistic size. */
async function seedOthers(connection, count, now) {
  const credential = (companyId, kind, identifier, prefix) => ({
    company_id: companyId,
    kind,
    identifier,
    secret_prefix: prefix,
    secret_hash: nodeCrypto.randomBytes(32),
    scopes: 'claims:read',
    status: 'active',
    created_at: now,
    saved_at: now,
  });
  for (let start = 0; start < count; start += 2 * BATCH) {
    const indexes = [];
    for (let i = start; i < Math.min(count, start + 2 * BATCH); i += 2) indexes.push(i);
    const names = indexes.map((i) => ({ name: `Bench company ${i}`, created_at: now }));
    const ids = await connection.db.insertInto('companies').values(names).returning('id').execute();
    const rows = indexes.flatMap((i, n) => [
      credential(ids[n].id, 'basic', `bench-user-${i}`, 'cxk_bench0'),
      credential(ids[n].id, 'oauth', `cxc_bench${String(i).padStart(21, '0')}`, 'cxs_bench0'),
    ]);
    await connection.db.insertInto('credentials').values(rows).execute();
  }
}

/** The caller's own company and credentials, made through the real services, on the build's database handle. */
async function seedCaller(db, now) {
  const deps = { db, clock: systemClock, audit: new AuditLog(db, systemClock), mailer: silentMailer };
  const companyId = await createCompanyGrantingAllScopes(db, 'Bench Inc', now);
  await authRepo.createUser(db, { companyId, email: 'operator@bench.invalid', passwordHash: null, isOperator: true }, now);
  const basic = await credentials.generateApiKeyFor(deps, companyId, 'bench-caller', SYSTEM_ACTOR);
  await credentials.saveCredential(deps, companyId, 'basic', basic.credential.id, 'none', SYSTEM_ACTOR);
  const oauth = await credentials.generateClientCredentials(deps, companyId, undefined, SYSTEM_ACTOR);
  await credentials.saveCredential(deps, companyId, 'oauth', oauth.credential.id, 'none', SYSTEM_ACTOR);
  return { username: 'bench-caller', apiKey: basic.secret, clientId: oauth.credential.identifier, clientSecret: oauth.secret };
}

/** A company with every scope, through whichever function the seeded build has (builds before 2ad85cb did it in auth/repo). */
async function createCompanyGrantingAllScopes(db, name, now) {
  if (typeof companies.createCompanyGrantingAllScopes === 'function') return companies.createCompanyGrantingAllScopes({ db }, name, now);
  const companyId = authRepo.createCompany(db, name, now);
  authRepo.grantAllScopes(db, companyId);
  return companyId;
}

/** Builds with the two-engine data layer (src/db/connect.js): Kysely on either engine, async services. */
async function seedTwoEngineBuild(now) {
  const { connect } = load('db/connect');
  const { migrate } = load('db/migrate');
  const connection = connect({ databaseUrl: process.env.DATABASE_URL, databaseFile: path.join(dataDir, 'console.sqlite') });
  try {
    await migrate(connection);
    await seedOthers(connection, Number(count), now);
    const caller = await seedCaller(connection.db, now);
    const { n } = await connection.db
      .selectFrom('credentials')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    return { credentialCount: Number(n), ...caller };
  } finally {
    await connection.close();
  }
}

/** Older builds: better-sqlite3 handles throughout, synchronous services. */
async function seedSqliteBuild(now) {
  if (process.env.DATABASE_URL) throw new Error(`the build in ${dist} has no PostgreSQL support: it cannot be measured with --engine postgres`);
  const { openDatabase } = load('db/open');
  const migrations = load('db/migrate');
  const db = openDatabase(path.join(dataDir, 'console.sqlite'));
  try {
    (migrations.migrateSqlite || migrations.migrate)(db);
    const insertCompany = db.prepare('INSERT INTO companies (name, created_at) VALUES (?, ?)');
    const insertCredential = db.prepare(
      `INSERT INTO credentials (company_id, kind, identifier, secret_prefix, secret_hash, scopes, status, created_at, saved_at)
       VALUES (?, ?, ?, ?, ?, 'claims:read', 'active', ?, ?)`,
    );
    db.transaction(() => {
      for (let i = 0; i < Number(count); i += 2) {
        const companyId = insertCompany.run(`Bench company ${i}`, now).lastInsertRowid;
        insertCredential.run(companyId, 'basic', `bench-user-${i}`, 'cxk_bench0', nodeCrypto.randomBytes(32), now, now);
        insertCredential.run(companyId, 'oauth', `cxc_bench${String(i).padStart(21, '0')}`, 'cxs_bench0', nodeCrypto.randomBytes(32), now, now);
      }
    })();
    const caller = await seedCaller(db, now);
    return { credentialCount: db.prepare('SELECT COUNT(*) FROM credentials').pluck().get(), ...caller };
  } finally {
    db.close();
  }
}

(async () => {
  const now = Date.now();
  const result = has('db/connect') ? await seedTwoEngineBuild(now) : await seedSqliteBuild(now);
  process.stdout.write(JSON.stringify(result) + '\n');
})().catch((err) => {
  process.stderr.write(`seed-console: ${err.stack || err.message}\n`);
  process.exit(1);
});
