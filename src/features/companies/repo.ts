import { sql } from 'kysely';
import type { Database } from '../../db/connect';

export interface CompanySummary {
  id: number;
  name: string;
  createdAt: number;
  userCount: number;
}

export async function listCompanies(db: Database): Promise<CompanySummary[]> {
  return db
    .selectFrom('companies as c')
    .leftJoin('users as u', 'u.company_id', 'c.id')
    .select(['c.id', 'c.name', 'c.created_at as createdAt', (eb) => eb.fn.count<number>('u.id').as('userCount')])
    .groupBy(['c.id', 'c.name', 'c.created_at'])
    .orderBy(sql`lower(c.name)`) // NOCASE on SQLite, citext on PostgreSQL: lower() orders both alike
    .execute();
}

export type LeakPolicy = 'revoke' | 'report';

export async function findCompany(db: Database, id: number): Promise<{ id: number; name: string; createdAt: number; leakPolicy: LeakPolicy } | undefined> {
  return db.selectFrom('companies').select(['id', 'name', 'created_at as createdAt', 'leak_policy as leakPolicy']).where('id', '=', id).executeTakeFirst();
}

export async function updateLeakPolicy(db: Database, id: number, policy: LeakPolicy): Promise<void> {
  await db.updateTable('companies').set({ leak_policy: policy }).where('id', '=', id).execute();
}

export async function companyNameTaken(db: Database, name: string): Promise<boolean> {
  return (await db.selectFrom('companies').select('id').where('name', '=', name).executeTakeFirst()) !== undefined;
}

export async function findCompanyByName(db: Database, name: string): Promise<{ id: number; name: string } | undefined> {
  return db.selectFrom('companies').select(['id', 'name']).where('name', '=', name).executeTakeFirst();
}

export async function findFirstCompany(db: Database): Promise<{ id: number; name: string } | undefined> {
  return db.selectFrom('companies').select(['id', 'name']).orderBy('id').limit(1).executeTakeFirst();
}

export async function findCompanyName(db: Database, companyId: number): Promise<string | undefined> {
  return (await db.selectFrom('companies').select('name').where('id', '=', companyId).executeTakeFirst())?.name;
}

export async function insertCompany(db: Database, name: string, now: number): Promise<number> {
  const row = await db.insertInto('companies').values({ name, created_at: now }).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

/** A new company may grant every scope in the catalog. */
export async function grantAllScopes(db: Database, companyId: number): Promise<void> {
  await db
    .insertInto('company_scopes')
    .columns(['company_id', 'scope'])
    .expression((eb) =>
      eb
        .selectFrom('scopes')
        .select([eb.cast<number>(eb.val(companyId), 'bigint').as('company_id'), 'name as scope'])
        // SQLite reads `SELECT ... FROM scopes ON CONFLICT` as a join's ON unless the SELECT has a WHERE.
        .where(sql<boolean>`1 = 1`),
    )
    .onConflict((oc) => oc.doNothing())
    .execute();
}

export async function listCompanyScopes(db: Database, companyId: number): Promise<string[]> {
  const rows = await db.selectFrom('company_scopes').select('scope').where('company_id', '=', companyId).orderBy('scope').execute();
  return rows.map((r) => r.scope);
}

export async function replaceCompanyScopes(db: Database, companyId: number, scopes: string[]): Promise<void> {
  await db.deleteFrom('company_scopes').where('company_id', '=', companyId).execute();
  if (scopes.length)
    await db
      .insertInto('company_scopes')
      .values(scopes.map((scope) => ({ company_id: companyId, scope })))
      .execute();
}

export async function countCompaniesGrantingScope(db: Database, scope: string): Promise<number> {
  const row = await db
    .selectFrom('company_scopes')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('scope', '=', scope)
    .executeTakeFirstOrThrow();
  return row.n;
}

/** The longest credential lifetime the company allows, in days; null: no maximum. */
export async function findMaxCredentialLifetime(db: Database, companyId: number): Promise<number | null> {
  const row = await db.selectFrom('companies').select('max_credential_lifetime_days as days').where('id', '=', companyId).executeTakeFirst();
  return row?.days ?? null;
}

export async function setMaxCredentialLifetime(db: Database, companyId: number, days: number | null): Promise<void> {
  await db.updateTable('companies').set({ max_credential_lifetime_days: days }).where('id', '=', companyId).execute();
}
