import type { Db } from '../../db/open';

export interface CompanySummary {
  id: number;
  name: string;
  createdAt: number;
  userCount: number;
}

export function listCompanies(db: Db): CompanySummary[] {
  return db
    .prepare(
      `SELECT c.id, c.name, c.created_at AS createdAt, COUNT(u.id) AS userCount
         FROM companies c LEFT JOIN users u ON u.company_id = c.id
        GROUP BY c.id ORDER BY c.name COLLATE NOCASE`,
    )
    .all() as CompanySummary[];
}

export function findCompany(db: Db, id: number): { id: number; name: string; createdAt: number } | undefined {
  return db.prepare('SELECT id, name, created_at AS createdAt FROM companies WHERE id = ?').get(id) as
    { id: number; name: string; createdAt: number } | undefined;
}

export function companyNameTaken(db: Db, name: string): boolean {
  return db.prepare('SELECT 1 FROM companies WHERE name = ?').get(name) !== undefined;
}

export function findCompanyByName(db: Db, name: string): { id: number; name: string } | undefined {
  return db.prepare('SELECT id, name FROM companies WHERE name = ?').get(name) as { id: number; name: string } | undefined;
}

export function findFirstCompany(db: Db): { id: number; name: string } | undefined {
  return db.prepare('SELECT id, name FROM companies ORDER BY id LIMIT 1').get() as { id: number; name: string } | undefined;
}

export function findCompanyName(db: Db, companyId: number): string | undefined {
  return db.prepare('SELECT name FROM companies WHERE id = ?').pluck().get(companyId) as string | undefined;
}

export function insertCompany(db: Db, name: string, now: number): number {
  return Number(db.prepare('INSERT INTO companies (name, created_at) VALUES (?, ?)').run(name, now).lastInsertRowid);
}

/** A new company may grant every scope in the catalog. */
export function grantAllScopes(db: Db, companyId: number): void {
  db.prepare('INSERT OR IGNORE INTO company_scopes (company_id, scope) SELECT ?, name FROM scopes').run(companyId);
}

export function listCompanyScopes(db: Db, companyId: number): string[] {
  return db.prepare('SELECT scope FROM company_scopes WHERE company_id = ? ORDER BY scope').pluck().all(companyId) as string[];
}

export function replaceCompanyScopes(db: Db, companyId: number, scopes: string[]): void {
  db.prepare('DELETE FROM company_scopes WHERE company_id = ?').run(companyId);
  const insert = db.prepare('INSERT INTO company_scopes (company_id, scope) VALUES (?, ?)');
  for (const scope of scopes) insert.run(companyId, scope);
}

export function countCompaniesGrantingScope(db: Db, scope: string): number {
  return db.prepare('SELECT COUNT(*) FROM company_scopes WHERE scope = ?').pluck().get(scope) as number;
}
