import type { Database } from '../../db/connect';

/** A passkey as the service verifies it: the authenticator's credential and whose it is. */
export interface PasskeyRecord {
  id: number;
  userId: number;
  credentialId: string;
  publicKey: Buffer;
  counter: number;
  transports: string[];
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

const COLUMNS = [
  'id',
  'user_id as userId',
  'credential_id as credentialId',
  'public_key as publicKey',
  'counter',
  'transports',
  'name',
  'created_at as createdAt',
  'last_used_at as lastUsedAt',
] as const;

type Row = Omit<PasskeyRecord, 'transports'> & { transports: string };

function parseTransports(json: string): string[] {
  const value = JSON.parse(json) as unknown;
  return Array.isArray(value) ? value.filter((t): t is string => typeof t === 'string') : [];
}

// PostgreSQL's BYTEA arrives as a Buffer, SQLite's BLOB too; BIGINT counters as numbers on both (src/db/connect.ts).
const toRecord = (row: Row | undefined): PasskeyRecord | undefined => (row ? { ...row, transports: parseTransports(row.transports) } : undefined);

/** A user's passkeys, oldest first. */
export async function listUserPasskeys(db: Database, userId: number): Promise<PasskeyRecord[]> {
  const rows = await db.selectFrom('passkeys').select(COLUMNS).where('user_id', '=', userId).orderBy('created_at').orderBy('id').execute();
  return rows.map((row) => toRecord(row)!);
}

export async function countUserPasskeys(db: Database, userId: number): Promise<number> {
  const row = await db
    .selectFrom('passkeys')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** How many passkeys each user of a company has (users without one are left out). */
export async function countPasskeysByCompanyUser(db: Database, companyId: number): Promise<Map<number, number>> {
  const rows = await db
    .selectFrom('passkeys as p')
    .innerJoin('users as u', 'u.id', 'p.user_id')
    .select((eb) => ['p.user_id as userId', eb.fn.countAll<number>().as('n')])
    .where('u.company_id', '=', companyId)
    .groupBy('p.user_id')
    .execute();
  return new Map(rows.map((r) => [r.userId, Number(r.n)]));
}

export async function findPasskeyByCredentialId(db: Database, credentialId: string): Promise<PasskeyRecord | undefined> {
  return toRecord(await db.selectFrom('passkeys').select(COLUMNS).where('credential_id', '=', credentialId).executeTakeFirst());
}

/** One of the user's passkeys; another user's (or none) is undefined. */
export async function findUserPasskey(db: Database, userId: number, id: number): Promise<PasskeyRecord | undefined> {
  return toRecord(await db.selectFrom('passkeys').select(COLUMNS).where('id', '=', id).where('user_id', '=', userId).executeTakeFirst());
}

export async function insertPasskey(
  db: Database,
  passkey: { userId: number; credentialId: string; publicKey: Buffer; counter: number; transports: string[]; name: string },
  now: number,
): Promise<number> {
  const row = await db
    .insertInto('passkeys')
    .values({
      user_id: passkey.userId,
      credential_id: passkey.credentialId,
      public_key: passkey.publicKey,
      counter: passkey.counter,
      transports: JSON.stringify(passkey.transports),
      name: passkey.name,
      created_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** After a verified assertion: the authenticator's new counter and the time of use. */
export async function recordPasskeyUse(db: Database, id: number, counter: number, now: number): Promise<void> {
  await db.updateTable('passkeys').set({ counter, last_used_at: now }).where('id', '=', id).execute();
}

export async function renameUserPasskey(db: Database, userId: number, id: number, name: string): Promise<void> {
  await db.updateTable('passkeys').set({ name }).where('id', '=', id).where('user_id', '=', userId).execute();
}

/** Every passkey of a user (an operator's reset); how many there were. */
export async function deleteAllUserPasskeys(db: Database, userId: number): Promise<number> {
  const result = await db.deleteFrom('passkeys').where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function deleteUserPasskey(db: Database, userId: number, id: number): Promise<boolean> {
  const result = await db.deleteFrom('passkeys').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}
