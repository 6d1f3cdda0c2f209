import type { Db } from '../../db/open';

export interface ScopeRow {
  name: string;
  description: string;
  createdAt: number;
  /** Companies allowed to grant it. */
  companyCount: number;
}

/** The deployment's scope catalog: every scope's name and description, by name. */
export function listScopes(db: Db): { name: string; description: string }[] {
  return db.prepare('SELECT name, description FROM scopes ORDER BY name').all() as { name: string; description: string }[];
}

export function listScopeCatalog(db: Db): ScopeRow[] {
  return db
    .prepare(
      `SELECT s.name, s.description, s.created_at AS createdAt, COUNT(cs.company_id) AS companyCount
         FROM scopes s LEFT JOIN company_scopes cs ON cs.scope = s.name
        GROUP BY s.name ORDER BY s.name`,
    )
    .all() as ScopeRow[];
}

export function findScope(db: Db, name: string): { name: string; description: string } | undefined {
  return db.prepare('SELECT name, description FROM scopes WHERE name = ?').get(name) as { name: string; description: string } | undefined;
}

export function insertScope(db: Db, name: string, description: string, now: number): void {
  db.prepare('INSERT INTO scopes (name, description, created_at) VALUES (?, ?, ?)').run(name, description, now);
}

export function updateScopeDescription(db: Db, name: string, description: string): void {
  db.prepare('UPDATE scopes SET description = ? WHERE name = ?').run(description, name);
}

export function deleteScope(db: Db, name: string): void {
  db.prepare('DELETE FROM scopes WHERE name = ?').run(name);
}

/** The catalog entries a company may grant, with their descriptions. */
export function listCompanyScopeDetails(db: Db, companyId: number): { name: string; description: string }[] {
  return db
    .prepare('SELECT s.name, s.description FROM scopes s JOIN company_scopes cs ON cs.scope = s.name WHERE cs.company_id = ? ORDER BY s.name')
    .all(companyId) as { name: string; description: string }[];
}
