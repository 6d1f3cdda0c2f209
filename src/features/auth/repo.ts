import type { Db } from '../../db/open';

export interface UserRecord {
  id: number;
  companyId: number;
  email: string;
  passwordHash: string | null;
  isOperator: boolean;
  disabledAt: number | null;
}

const USER_COLUMNS = `id, company_id AS companyId, email, password_hash AS passwordHash,
  is_operator AS isOperator, disabled_at AS disabledAt`;

type UserRow = Omit<UserRecord, 'isOperator'> & { isOperator: number };
const toUser = (row: UserRow | undefined): UserRecord | undefined => (row ? { ...row, isOperator: row.isOperator === 1 } : undefined);

export function findUserByEmail(db: Db, email: string): UserRecord | undefined {
  return toUser(db.prepare(`SELECT ${USER_COLUMNS} FROM users WHERE email = ?`).get(email) as UserRow | undefined);
}

export function findUserById(db: Db, id: number): UserRecord | undefined {
  return toUser(db.prepare(`SELECT ${USER_COLUMNS} FROM users WHERE id = ?`).get(id) as UserRow | undefined);
}

export function countUsers(db: Db): number {
  return db.prepare('SELECT COUNT(*) FROM users').pluck().get() as number;
}

export function createCompany(db: Db, name: string, now: number): number {
  return Number(db.prepare('INSERT INTO companies (name, created_at) VALUES (?, ?)').run(name, now).lastInsertRowid);
}

export function grantAllScopes(db: Db, companyId: number): void {
  db.prepare('INSERT OR IGNORE INTO company_scopes (company_id, scope) SELECT ?, name FROM scopes').run(companyId);
}

export function createUser(
  db: Db,
  user: { companyId: number; email: string; passwordHash: string | null; isOperator: boolean },
  now: number,
): number {
  return Number(
    db
      .prepare('INSERT INTO users (company_id, email, password_hash, is_operator, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(user.companyId, user.email, user.passwordHash, user.isOperator ? 1 : 0, now).lastInsertRowid,
  );
}

export function setPasswordHash(db: Db, userId: number, hash: string): void {
  db.prepare('UPDATE users SET password_hash = ? WHERE id = ?').run(hash, userId);
}

export function recordSignIn(db: Db, userId: number, now: number): void {
  db.prepare('UPDATE users SET last_sign_in_at = ? WHERE id = ?').run(now, userId);
}

export function deleteUserSessions(db: Db, userId: number): number {
  return db.prepare('DELETE FROM sessions WHERE user_id = ?').run(userId).changes;
}

export function getSetting(db: Db, key: string): string | undefined {
  return db.prepare('SELECT value FROM settings WHERE key = ?').pluck().get(key) as string | undefined;
}

export function setSetting(db: Db, key: string, value: string): void {
  db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
}

export function deleteSetting(db: Db, key: string): void {
  db.prepare('DELETE FROM settings WHERE key = ?').run(key);
}

export interface InvitationRecord {
  id: number;
  userId: number;
  email: string;
  expiresAt: number;
  usedAt: number | null;
  companyId: number;
  userDisabledAt: number | null;
}

export function createInvitation(db: Db, userId: number, tokenHash: Buffer, createdBy: number | null, now: number, expiresAt: number): void {
  db.prepare('UPDATE invitations SET used_at = ? WHERE user_id = ? AND used_at IS NULL').run(now, userId);
  db.prepare('INSERT INTO invitations (user_id, token_hash, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?)').run(
    userId,
    tokenHash,
    createdBy,
    now,
    expiresAt,
  );
}

export function findInvitationByHash(db: Db, tokenHash: Buffer): InvitationRecord | undefined {
  return db
    .prepare(
      `SELECT i.id, i.user_id AS userId, u.email, i.expires_at AS expiresAt, i.used_at AS usedAt, u.company_id AS companyId,
              u.disabled_at AS userDisabledAt
         FROM invitations i JOIN users u ON u.id = i.user_id WHERE i.token_hash = ?`,
    )
    .get(tokenHash) as InvitationRecord | undefined;
}

export function markInvitationUsed(db: Db, id: number, now: number): boolean {
  return db.prepare('UPDATE invitations SET used_at = ? WHERE id = ? AND used_at IS NULL').run(now, id).changes === 1;
}
