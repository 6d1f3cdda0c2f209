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

export function createUser(db: Db, user: { companyId: number; email: string; passwordHash: string | null; isOperator: boolean }, now: number): number {
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

export function clearPasswordHash(db: Db, userId: number): void {
  db.prepare('UPDATE users SET password_hash = NULL WHERE id = ?').run(userId);
}

export function setUserDisabled(db: Db, userId: number, disabledAt: number | null): void {
  db.prepare('UPDATE users SET disabled_at = ? WHERE id = ?').run(disabledAt, userId);
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

export function listCompanyRecipients(db: Db, companyId: number): string[] {
  return db
    .prepare('SELECT email FROM users WHERE company_id = ? AND disabled_at IS NULL AND password_hash IS NOT NULL ORDER BY email')
    .pluck()
    .all(companyId) as string[];
}

/** Who a session belongs to, as every console request needs it. */
export interface SignedInUser {
  id: number;
  email: string;
  companyId: number;
  companyName: string;
  isOperator: boolean;
}

/** Prepared once: asked on every console request (one indexed read), so a disabled user stops at once. */
export function createSignedInUserLookup(db: Db): (userId: number) => SignedInUser | undefined {
  const statement = db.prepare(
    `SELECT u.id, u.email, u.company_id AS companyId, c.name AS companyName, u.is_operator AS isOperator
       FROM users u JOIN companies c ON c.id = u.company_id
      WHERE u.id = ? AND u.disabled_at IS NULL AND u.password_hash IS NOT NULL`,
  );
  return (userId) => {
    const row = statement.get(userId) as (Omit<SignedInUser, 'isOperator'> & { isOperator: number }) | undefined;
    return row ? { ...row, isOperator: row.isOperator === 1 } : undefined;
  };
}

export function deleteUserSessions(db: Db, userId: number): number {
  return db.prepare('DELETE FROM sessions WHERE user_id = ?').run(userId).changes;
}

export function countExpiredSessions(db: Db, now: number): number {
  return db.prepare('SELECT COUNT(*) FROM sessions WHERE expires_at <= ?').pluck().get(now) as number;
}

export function deleteExpiredSessions(db: Db, now: number): number {
  return db.prepare('DELETE FROM sessions WHERE expires_at <= ?').run(now).changes;
}

/** The session store's statements, prepared once (every console request reads and touches its session). */
export interface SessionQueries {
  /** The session's data, unless it has expired. */
  findSessionData(sidHash: string, now: number): string | undefined;
  /** A session this process just started (a new id): never a row that exists. */
  insertSession(sidHash: string, userId: number | null, data: string, expiresAt: number): void;
  /** Updates a session that still exists and has not expired; a deleted one stays deleted. */
  updateLiveSession(sidHash: string, userId: number | null, data: string, expiresAt: number, now: number): void;
  touchLiveSession(sidHash: string, expiresAt: number, now: number): void;
  deleteSession(sidHash: string): void;
  deleteExpiredSessions(now: number): number;
}

export function createSessionQueries(db: Db): SessionQueries {
  const find = db.prepare('SELECT data FROM sessions WHERE sid = ? AND expires_at > ?').pluck();
  const insert = db.prepare('INSERT INTO sessions (sid, user_id, data, expires_at) VALUES (?, ?, ?, ?)');
  const update = db.prepare('UPDATE sessions SET user_id = ?, data = ?, expires_at = ? WHERE sid = ? AND expires_at > ?');
  const touch = db.prepare('UPDATE sessions SET expires_at = ? WHERE sid = ? AND expires_at > ?');
  const remove = db.prepare('DELETE FROM sessions WHERE sid = ?');
  return {
    findSessionData: (sidHash, now) => find.get(sidHash, now) as string | undefined,
    insertSession: (sidHash, userId, data, expiresAt) => void insert.run(sidHash, userId, data, expiresAt),
    updateLiveSession: (sidHash, userId, data, expiresAt, now) => void update.run(userId, data, expiresAt, sidHash, now),
    touchLiveSession: (sidHash, expiresAt, now) => void touch.run(expiresAt, sidHash, now),
    deleteSession: (sidHash) => void remove.run(sidHash),
    deleteExpiredSessions: (now) => deleteExpiredSessions(db, now), // every few minutes: no need to keep it prepared
  };
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
