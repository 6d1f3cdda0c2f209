import type { Db } from '../../db/open';

export interface CompanySummary {
  id: number;
  name: string;
  createdAt: number;
  userCount: number;
}

export interface CompanyUser {
  id: number;
  email: string;
  isOperator: boolean;
  disabledAt: number | null;
  hasPassword: boolean;
  lastSignInAt: number | null;
  createdAt: number;
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
    | { id: number; name: string; createdAt: number }
    | undefined;
}

export function companyNameTaken(db: Db, name: string): boolean {
  return db.prepare('SELECT 1 FROM companies WHERE name = ?').get(name) !== undefined;
}

export function listCompanyUsers(db: Db, companyId: number): CompanyUser[] {
  const rows = db
    .prepare(
      `SELECT id, email, is_operator AS isOperator, disabled_at AS disabledAt, password_hash IS NOT NULL AS hasPassword,
              last_sign_in_at AS lastSignInAt, created_at AS createdAt
         FROM users WHERE company_id = ? ORDER BY email`,
    )
    .all(companyId) as (Omit<CompanyUser, 'isOperator' | 'hasPassword'> & { isOperator: number; hasPassword: number })[];
  return rows.map((r) => ({ ...r, isOperator: r.isOperator === 1, hasPassword: r.hasPassword === 1 }));
}

export function setUserDisabled(db: Db, userId: number, disabledAt: number | null): void {
  db.prepare('UPDATE users SET disabled_at = ? WHERE id = ?').run(disabledAt, userId);
}

export function listCompanyScopes(db: Db, companyId: number): string[] {
  return db.prepare('SELECT scope FROM company_scopes WHERE company_id = ? ORDER BY scope').pluck().all(companyId) as string[];
}

export function replaceCompanyScopes(db: Db, companyId: number, scopes: string[]): void {
  db.prepare('DELETE FROM company_scopes WHERE company_id = ?').run(companyId);
  const insert = db.prepare('INSERT INTO company_scopes (company_id, scope) VALUES (?, ?)');
  for (const scope of scopes) insert.run(companyId, scope);
}
