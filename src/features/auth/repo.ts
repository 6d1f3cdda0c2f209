import { CompiledQuery } from 'kysely';
import type { Database } from '../../db/connect';

/** A query compiled once, to run again with new parameters (in the compiled SQL's order): no building per call. */
const withParameters = (compiled: CompiledQuery, parameters: unknown[]): CompiledQuery => CompiledQuery.raw(compiled.sql, parameters);

export interface UserRecord {
  id: number;
  companyId: number;
  email: string;
  passwordHash: string | null;
  isOperator: boolean;
  disabledAt: number | null;
}

const USER_COLUMNS = [
  'id',
  'company_id as companyId',
  'email',
  'password_hash as passwordHash',
  'is_operator as isOperator',
  'disabled_at as disabledAt',
] as const;

type UserRow = Omit<UserRecord, 'isOperator'> & { isOperator: number };
const toUser = (row: UserRow | undefined): UserRecord | undefined => (row ? { ...row, isOperator: row.isOperator === 1 } : undefined);

export async function findUserByEmail(db: Database, email: string): Promise<UserRecord | undefined> {
  return toUser(await db.selectFrom('users').select(USER_COLUMNS).where('email', '=', email).executeTakeFirst());
}

export async function findUserById(db: Database, id: number): Promise<UserRecord | undefined> {
  return toUser(await db.selectFrom('users').select(USER_COLUMNS).where('id', '=', id).executeTakeFirst());
}

export async function countUsers(db: Database): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return row.n;
}

export async function createUser(
  db: Database,
  user: { companyId: number; email: string; passwordHash: string | null; isOperator: boolean },
  now: number,
): Promise<number> {
  const row = await db
    .insertInto('users')
    .values({ company_id: user.companyId, email: user.email, password_hash: user.passwordHash, is_operator: user.isOperator ? 1 : 0, created_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function setPasswordHash(db: Database, userId: number, hash: string): Promise<void> {
  await db.updateTable('users').set({ password_hash: hash }).where('id', '=', userId).execute();
}

export async function recordSignIn(db: Database, userId: number, now: number): Promise<void> {
  await db.updateTable('users').set({ last_sign_in_at: now }).where('id', '=', userId).execute();
}

export async function clearPasswordHash(db: Database, userId: number): Promise<void> {
  await db.updateTable('users').set({ password_hash: null }).where('id', '=', userId).execute();
}

export async function setUserDisabled(db: Database, userId: number, disabledAt: number | null): Promise<void> {
  await db.updateTable('users').set({ disabled_at: disabledAt }).where('id', '=', userId).execute();
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

export async function listCompanyUsers(db: Database, companyId: number): Promise<CompanyUser[]> {
  const rows = await db
    .selectFrom('users')
    .select([
      'id',
      'email',
      'is_operator as isOperator',
      'disabled_at as disabledAt',
      (eb) => eb('password_hash', 'is not', null).as('hasPassword'),
      'last_sign_in_at as lastSignInAt',
      'created_at as createdAt',
    ])
    .where('company_id', '=', companyId)
    .orderBy('email')
    .execute();
  // hasPassword is 0/1 on SQLite and a boolean on PostgreSQL.
  return rows.map((r) => ({ ...r, isOperator: r.isOperator === 1, hasPassword: Boolean(r.hasPassword) }));
}

export async function listCompanyRecipients(db: Database, companyId: number): Promise<string[]> {
  const rows = await db
    .selectFrom('users')
    .select('email')
    .where('company_id', '=', companyId)
    .where('disabled_at', 'is', null)
    .where('password_hash', 'is not', null)
    .orderBy('email')
    .execute();
  return rows.map((r) => r.email);
}

/** Who a session belongs to, as every console request needs it. */
export interface SignedInUser {
  id: number;
  email: string;
  companyId: number;
  companyName: string;
  isOperator: boolean;
}

/**
 * Compiled once: asked on every console request (one indexed read), so a disabled user stops at once.
 * Each call runs the same SQL text with a new id (the SQLite dialect keeps it prepared).
 */
export function createSignedInUserLookup(db: Database): (userId: number) => Promise<SignedInUser | undefined> {
  const compiled = db
    .selectFrom('users as u')
    .innerJoin('companies as c', 'c.id', 'u.company_id')
    .select(['u.id', 'u.email', 'u.company_id as companyId', 'c.name as companyName', 'u.is_operator as isOperator'])
    .where('u.id', '=', 0) // the one parameter: the user's id
    .where('u.disabled_at', 'is', null)
    .where('u.password_hash', 'is not', null)
    .compile();
  return async (userId) => {
    const { rows } = await db.executeQuery<Omit<SignedInUser, 'isOperator'> & { isOperator: number }>(withParameters(compiled, [userId]));
    const row = rows[0];
    return row ? { ...row, isOperator: row.isOperator === 1 } : undefined;
  };
}

export async function deleteUserSessions(db: Database, userId: number): Promise<number> {
  const result = await db.deleteFrom('sessions').where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function countExpiredSessions(db: Database, now: number): Promise<number> {
  const row = await db
    .selectFrom('sessions')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('expires_at', '<=', now)
    .executeTakeFirstOrThrow();
  return row.n;
}

export async function deleteExpiredSessions(db: Database, now: number): Promise<number> {
  const result = await db.deleteFrom('sessions').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** The session store's queries, compiled once (every console request reads and touches its session). */
export interface SessionQueries {
  /** The session's data, unless it has expired. */
  findSessionData(sidHash: string, now: number): Promise<string | undefined>;
  /** A session this process just started (a new id): never a row that exists. */
  insertSession(sidHash: string, userId: number | null, data: string, expiresAt: number): Promise<void>;
  /** Updates a session that still exists and has not expired; a deleted one stays deleted. */
  updateLiveSession(sidHash: string, userId: number | null, data: string, expiresAt: number, now: number): Promise<void>;
  touchLiveSession(sidHash: string, expiresAt: number, now: number): Promise<void>;
  deleteSession(sidHash: string): Promise<void>;
  deleteExpiredSessions(now: number): Promise<number>;
}

export function createSessionQueries(db: Database): SessionQueries {
  // Built with placeholder values once; each call re-runs the compiled SQL with its own parameters, in this order.
  const find = db.selectFrom('sessions').select('data').where('sid', '=', '').where('expires_at', '>', 0).compile();
  const insert = db.insertInto('sessions').values({ sid: '', user_id: null, data: '', expires_at: 0 }).compile();
  const update = db.updateTable('sessions').set({ user_id: null, data: '', expires_at: 0 }).where('sid', '=', '').where('expires_at', '>', 0).compile();
  const touch = db.updateTable('sessions').set({ expires_at: 0 }).where('sid', '=', '').where('expires_at', '>', 0).compile();
  const remove = db.deleteFrom('sessions').where('sid', '=', '').compile();
  return {
    findSessionData: async (sidHash, now) => (await db.executeQuery<{ data: string }>(withParameters(find, [sidHash, now]))).rows[0]?.data,
    insertSession: async (sidHash, userId, data, expiresAt) => void (await db.executeQuery(withParameters(insert, [sidHash, userId, data, expiresAt]))),
    updateLiveSession: async (sidHash, userId, data, expiresAt, now) =>
      void (await db.executeQuery(withParameters(update, [userId, data, expiresAt, sidHash, now]))),
    touchLiveSession: async (sidHash, expiresAt, now) => void (await db.executeQuery(withParameters(touch, [expiresAt, sidHash, now]))),
    deleteSession: async (sidHash) => void (await db.executeQuery(withParameters(remove, [sidHash]))),
    deleteExpiredSessions: (now) => deleteExpiredSessions(db, now), // every few minutes: no need to keep it compiled
  };
}

export async function getSetting(db: Database, key: string): Promise<string | undefined> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
  return row?.value;
}

export async function setSetting(db: Database, key: string, value: string): Promise<void> {
  await db
    .insertInto('settings')
    .values({ key, value })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: (eb) => eb.ref('excluded.value') }))
    .execute();
}

export async function deleteSetting(db: Database, key: string): Promise<void> {
  await db.deleteFrom('settings').where('key', '=', key).execute();
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

export async function createInvitation(
  db: Database,
  userId: number,
  tokenHash: Buffer,
  createdBy: number | null,
  now: number,
  expiresAt: number,
): Promise<void> {
  await db.updateTable('invitations').set({ used_at: now }).where('user_id', '=', userId).where('used_at', 'is', null).execute();
  await db
    .insertInto('invitations')
    .values({ user_id: userId, token_hash: tokenHash, created_by: createdBy, created_at: now, expires_at: expiresAt })
    .execute();
}

export async function findInvitationByHash(db: Database, tokenHash: Buffer): Promise<InvitationRecord | undefined> {
  return db
    .selectFrom('invitations as i')
    .innerJoin('users as u', 'u.id', 'i.user_id')
    .select([
      'i.id',
      'i.user_id as userId',
      'u.email',
      'i.expires_at as expiresAt',
      'i.used_at as usedAt',
      'u.company_id as companyId',
      'u.disabled_at as userDisabledAt',
    ])
    .where('i.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

export async function markInvitationUsed(db: Database, id: number, now: number): Promise<boolean> {
  const result = await db.updateTable('invitations').set({ used_at: now }).where('id', '=', id).where('used_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
