import type { Database } from '../../db/connect';

export interface ScopeRow {
  name: string;
  description: string;
  createdAt: number;
  /** Companies allowed to grant it. */
  companyCount: number;
}

/** The deployment's scope catalog: every scope's name and description, by name. */
export async function listScopes(db: Database): Promise<{ name: string; description: string }[]> {
  return db.selectFrom('scopes').select(['name', 'description']).orderBy('name').execute();
}

export async function listScopeCatalog(db: Database): Promise<ScopeRow[]> {
  return db
    .selectFrom('scopes as s')
    .leftJoin('company_scopes as cs', 'cs.scope', 's.name')
    .select((eb) => ['s.name', 's.description', 's.created_at as createdAt', eb.fn.count<number>('cs.company_id').as('companyCount')])
    .groupBy(['s.name', 's.description', 's.created_at'])
    .orderBy('s.name')
    .execute();
}

export async function findScope(db: Database, name: string): Promise<{ name: string; description: string } | undefined> {
  return db.selectFrom('scopes').select(['name', 'description']).where('name', '=', name).executeTakeFirst();
}

export async function insertScope(db: Database, name: string, description: string, now: number): Promise<void> {
  await db.insertInto('scopes').values({ name, description, created_at: now }).execute();
}

export async function updateScopeDescription(db: Database, name: string, description: string): Promise<void> {
  await db.updateTable('scopes').set({ description }).where('name', '=', name).execute();
}

export async function deleteScope(db: Database, name: string): Promise<void> {
  await db.deleteFrom('scopes').where('name', '=', name).execute();
}

/** The catalog entries a company may grant, with their descriptions. */
export async function listCompanyScopeDetails(db: Database, companyId: number): Promise<{ name: string; description: string }[]> {
  return db
    .selectFrom('scopes as s')
    .innerJoin('company_scopes as cs', 'cs.scope', 's.name')
    .select(['s.name', 's.description'])
    .where('cs.company_id', '=', companyId)
    .orderBy('s.name')
    .execute();
}
