import type { Database } from '../../db/connect';
import type { Db } from '../../db/open';

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

// Transitional (decision 0011): the two catalog reads on the SQLite handle, for the features that still
// call them synchronously (companies, credentials, the authorization server's metadata). They go when
// those features await the functions above.

export function listScopesSync(db: Db): { name: string; description: string }[] {
  return db.prepare('SELECT name, description FROM scopes ORDER BY name').all() as { name: string; description: string }[];
}

export function listCompanyScopeDetailsSync(db: Db, companyId: number): { name: string; description: string }[] {
  return db
    .prepare('SELECT s.name, s.description FROM scopes s JOIN company_scopes cs ON cs.scope = s.name WHERE cs.company_id = ? ORDER BY s.name')
    .all(companyId) as { name: string; description: string }[];
}
