import { sha256 } from '../src/crypto';
import { AuditLog, SYSTEM_ACTOR } from '../src/features/audit/service';
import { generateApiKeyFor, generateClientCredentials, PENDING_TTL_MS, saveCredential } from '../src/features/credentials/service';
import { generateApiKey, generateClientId, generateClientSecret, publicPrefix } from '../src/features/credentials/secrets';
import { insertAccessRequest } from '../src/features/docs-access/repo';
import { insertOutboxMessage } from '../src/features/mail/repo';
import { seedCompany, seedCompanySync, seedUser, seedUserSync } from './helpers';
import type { SeededUser, TestContext } from './helpers';

export interface World {
  ids: {
    companyA: number;
    adminA: number;
    victim: number;
    activeKey: number;
    activeClient: number;
    pendingKey: number;
    pendingClient: number;
    accessRequest: number;
    outbox: number;
  };
  secrets: { apiKey: string; clientId: string; clientSecret: string };
}

/**
 * A small deployment for route-wide tests: companies A and B, an operator, a disabled-to-be and a
 * victim user in A, A's saved Basic key ('company-a-api') and OAuth client, one pending generation
 * of each, an access request and an outbox message. Administrators: admin@a.test, admin@b.test.
 */
export async function seedWorld(ctx: TestContext): Promise<World> {
  const { database, clock } = ctx;
  const a = await seedCompany(ctx, 'Company A', 'admin@a.test');
  await seedCompany(ctx, 'Company B', 'admin@b.test');
  await seedCompany(ctx, 'Operators', 'operator@ops.test', { operator: true });
  await seedUser(ctx, a.companyId, 'disabled@a.test');
  const victim = await seedUser(ctx, a.companyId, 'victim@a.test');
  const deps = { db: database, clock, audit: new AuditLog(database, clock), mailer: { send: () => Promise.resolve(0) } };
  const key = await generateApiKeyFor(deps, a.companyId, 'company-a-api', SYSTEM_ACTOR);
  await saveCredential(deps, a.companyId, 'basic', key.credential.id, 'none', SYSTEM_ACTOR);
  const client = await generateClientCredentials(deps, a.companyId, undefined, SYSTEM_ACTOR);
  await saveCredential(deps, a.companyId, 'oauth', client.credential.id, 'none', SYSTEM_ACTOR);
  const pendingKey = await generateApiKeyFor(deps, a.companyId, 'company-a-api', SYSTEM_ACTOR);
  const pendingClient = await generateClientCredentials(deps, a.companyId, undefined, SYSTEM_ACTOR);
  const rest = await seedRest(ctx, a);
  return {
    ids: {
      companyA: a.companyId,
      adminA: a.userId,
      victim: victim.userId,
      activeKey: key.credential.id,
      activeClient: client.credential.id,
      pendingKey: pendingKey.credential.id,
      pendingClient: pendingClient.credential.id,
      ...rest,
    },
    secrets: { apiKey: key.secret, clientId: client.credential.identifier, clientSecret: client.secret },
  };
}

/** The access request and the outbox message. */
async function seedRest(ctx: TestContext, a: SeededUser): Promise<{ accessRequest: number; outbox: number }> {
  const { database, clock } = ctx;
  const accessRequest = await insertAccessRequest(database, a.companyId, 'developer@a.test', a.userId, clock.now());
  const outbox = await insertOutboxMessage(database, {
    companyId: a.companyId,
    to: 'admin@a.test',
    subject: 'A message',
    text: 'Hello',
    html: null,
    kind: 'credential_saved',
    state: 'failed',
    secrets: [],
    now: clock.now(),
  });
  return { accessRequest, outbox };
}

/** The same two rows, written with the SQLite handle for seedWorldSync. */
function seedRestSync(ctx: TestContext, a: SeededUser): { accessRequest: number; outbox: number } {
  const { db, clock } = ctx;
  const accessRequest = Number(
    db
      .prepare("INSERT INTO access_requests (company_id, email, requested_by, status, created_at) VALUES (?, ?, ?, 'pending', ?)")
      .run(a.companyId, 'developer@a.test', a.userId, clock.now()).lastInsertRowid,
  );
  const outbox = Number(
    db
      .prepare(
        `INSERT INTO outbox (company_id, to_address, subject, text_body, kind, state, created_at)
         VALUES (?, 'admin@a.test', 'A message', 'Hello', 'credential_saved', 'failed', ?)`,
      )
      .run(a.companyId, clock.now()).lastInsertRowid,
  );
  return { accessRequest, outbox };
}

/**
 * Transitional, SQLite only (see seedCompanySync in tests/helpers.ts): the same world, for test files
 * that build their cases from it at describe level. The credential services are async now, so the
 * credentials are written as rows in the states the services leave them in (no audit entries).
 */
export function seedWorldSync(ctx: TestContext): World {
  const { db, clock } = ctx;
  const a = seedCompanySync(ctx, 'Company A', 'admin@a.test');
  seedCompanySync(ctx, 'Company B', 'admin@b.test');
  seedCompanySync(ctx, 'Operators', 'operator@ops.test', { operator: true });
  seedUserSync(ctx, a.companyId, 'disabled@a.test');
  const victim = seedUserSync(ctx, a.companyId, 'victim@a.test');
  const now = clock.now();
  const scopes = (db.prepare('SELECT scope FROM company_scopes WHERE company_id = ? ORDER BY scope').pluck().all(a.companyId) as string[]).join(' ');
  const insert = (kind: 'basic' | 'oauth', identifier: string, secret: string, saved: boolean, replacesId: number | null): number =>
    Number(
      db
        .prepare(
          `INSERT INTO credentials (company_id, kind, identifier, secret_prefix, secret_hash, scopes, status, replaces_id, created_by, created_at, expires_at, saved_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)`,
        )
        .run(
          a.companyId,
          kind,
          identifier,
          publicPrefix(secret),
          sha256(secret),
          scopes,
          saved ? 'active' : 'pending',
          replacesId,
          now,
          saved ? null : now + PENDING_TTL_MS,
          saved ? now : null,
        ).lastInsertRowid,
    );
  db.prepare('INSERT INTO api_usernames (username, company_id, claimed_at) VALUES (?, ?, ?)').run('company-a-api', a.companyId, now);
  const apiKey = generateApiKey();
  const activeKey = insert('basic', 'company-a-api', apiKey, true, null);
  const clientId = generateClientId();
  const clientSecret = generateClientSecret();
  const activeClient = insert('oauth', clientId, clientSecret, true, null);
  const pendingKey = insert('basic', 'company-a-api', generateApiKey(), false, activeKey);
  const pendingClient = insert('oauth', generateClientId(), generateClientSecret(), false, activeClient);
  return {
    ids: { companyA: a.companyId, adminA: a.userId, victim: victim.userId, activeKey, activeClient, pendingKey, pendingClient, ...seedRestSync(ctx, a) },
    secrets: { apiKey, clientId, clientSecret },
  };
}
