import { AuditLog, SYSTEM_ACTOR } from '../src/features/audit/service';
import { generateApiKeyFor, generateClientCredentials, saveCredential } from '../src/features/credentials/service';
import { seedCompanySync, seedUserSync } from './helpers';
import type { TestContext } from './helpers';

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
  return Promise.resolve(seedWorldSync(ctx));
}

/** Transitional, SQLite only (see seedCompanySync in tests/helpers.ts). */
export function seedWorldSync(ctx: TestContext): World {
  const { db, clock } = ctx;
  const a = seedCompanySync(ctx, 'Company A', 'admin@a.test');
  seedCompanySync(ctx, 'Company B', 'admin@b.test');
  seedCompanySync(ctx, 'Operators', 'operator@ops.test', { operator: true });
  seedUserSync(ctx, a.companyId, 'disabled@a.test');
  const victim = seedUserSync(ctx, a.companyId, 'victim@a.test');
  const deps = { db, clock, audit: new AuditLog(db, clock), mailer: { send: () => Promise.resolve(0) } };
  const key = generateApiKeyFor(deps, a.companyId, 'company-a-api', SYSTEM_ACTOR);
  saveCredential(deps, a.companyId, 'basic', key.credential.id, 'none', SYSTEM_ACTOR);
  const client = generateClientCredentials(deps, a.companyId, undefined, SYSTEM_ACTOR);
  saveCredential(deps, a.companyId, 'oauth', client.credential.id, 'none', SYSTEM_ACTOR);
  const pendingKey = generateApiKeyFor(deps, a.companyId, 'company-a-api', SYSTEM_ACTOR);
  const pendingClient = generateClientCredentials(deps, a.companyId, undefined, SYSTEM_ACTOR);
  // The docs-access and mail repos are async now (Kysely); this transitional seeder writes their rows itself.
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
  return {
    ids: {
      companyA: a.companyId,
      adminA: a.userId,
      victim: victim.userId,
      activeKey: key.credential.id,
      activeClient: client.credential.id,
      pendingKey: pendingKey.credential.id,
      pendingClient: pendingClient.credential.id,
      accessRequest,
      outbox,
    },
    secrets: { apiKey: key.secret, clientId: client.credential.identifier, clientSecret: client.secret },
  };
}
