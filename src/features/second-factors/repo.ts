import type { Database } from '../../db/connect';

/** The settings row (auth owns the table; read here only inside the enrolment check's query). */
export const OPERATORS_REQUIRE_KEY = 'operators_require_second_factor';

export interface TotpFactorRecord {
  id: number;
  userId: number;
  name: string;
  secretSealed: string;
  createdAt: number;
  confirmedAt: number | null;
  lastUsedAt: number | null;
  lastStep: number;
}

const TOTP_COLUMNS = [
  'id',
  'user_id as userId',
  'name',
  'secret_sealed as secretSealed',
  'created_at as createdAt',
  'confirmed_at as confirmedAt',
  'last_used_at as lastUsedAt',
  'last_step as lastStep',
] as const;

// ------------------------------------------------------------------ totp_factors

/** A new authenticator app waiting for its first code; the user's enrolments started before `staleBefore` and never confirmed go. */
export async function insertPendingTotp(db: Database, userId: number, secretSealed: string, now: number, staleBefore: number): Promise<number> {
  await db.deleteFrom('totp_factors').where('user_id', '=', userId).where('confirmed_at', 'is', null).where('created_at', '<', staleBefore).execute();
  const row = await db
    .insertInto('totp_factors')
    .values({ user_id: userId, name: '', secret_sealed: secretSealed, created_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function findTotp(db: Database, userId: number, id: number): Promise<TotpFactorRecord | undefined> {
  return db.selectFrom('totp_factors').select(TOTP_COLUMNS).where('user_id', '=', userId).where('id', '=', id).executeTakeFirst();
}

/** The user's confirmed authenticator apps, oldest first. */
export async function listConfirmedTotp(db: Database, userId: number): Promise<TotpFactorRecord[]> {
  return db.selectFrom('totp_factors').select(TOTP_COLUMNS).where('user_id', '=', userId).where('confirmed_at', 'is not', null).orderBy('id').execute();
}

/** Keeps a pending factor: named, confirmed, its first code's step spent. False when it was not pending. */
export async function confirmTotp(db: Database, id: number, name: string, step: number, now: number): Promise<boolean> {
  const result = await db
    .updateTable('totp_factors')
    .set({ name, confirmed_at: now, last_used_at: now, last_step: step })
    .where('id', '=', id)
    .where('confirmed_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Spends a code's time step: only when it is later than the last one spent, so a code is accepted once,
 * even by two replicas at the same instant (the condition is in the UPDATE). False for a replay.
 */
export async function spendTotpStep(db: Database, id: number, step: number, now: number): Promise<boolean> {
  const result = await db
    .updateTable('totp_factors')
    .set({ last_step: step, last_used_at: now })
    .where('id', '=', id)
    .where('last_step', '<', step)
    .where('confirmed_at', 'is not', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function deleteTotp(db: Database, userId: number, id: number): Promise<boolean> {
  const result = await db.deleteFrom('totp_factors').where('user_id', '=', userId).where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

/** Every authenticator app of the user (pending ones too); returns how many confirmed ones went. */
export async function deleteAllTotp(db: Database, userId: number): Promise<number> {
  const confirmed = (await listConfirmedTotp(db, userId)).length;
  await db.deleteFrom('totp_factors').where('user_id', '=', userId).execute();
  return confirmed;
}

/** How many authenticator apps each user of a company has (users without one are absent). */
export async function countTotpByCompanyUser(db: Database, companyId: number): Promise<Map<number, number>> {
  const rows = await db
    .selectFrom('totp_factors as t')
    .innerJoin('users as u', 'u.id', 't.user_id')
    .select((eb) => ['t.user_id as userId', eb.fn.countAll<number>().as('n')])
    .where('u.company_id', '=', companyId)
    .where('t.confirmed_at', 'is not', null)
    .groupBy('t.user_id')
    .execute();
  return new Map(rows.map((r) => [r.userId, Number(r.n)]));
}

// ------------------------------------------------------------------ recovery_codes

export async function replaceRecoveryCodes(db: Database, userId: number, hashes: Buffer[], now: number): Promise<void> {
  await deleteRecoveryCodes(db, userId);
  await db
    .insertInto('recovery_codes')
    .values(hashes.map((code_hash) => ({ user_id: userId, code_hash, created_at: now })))
    .execute();
}

export async function deleteRecoveryCodes(db: Database, userId: number): Promise<number> {
  const result = await db.deleteFrom('recovery_codes').where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** The user's unused codes' hashes (the caller compares each in constant time). */
export async function listUnusedRecoveryCodes(db: Database, userId: number): Promise<{ id: number; codeHash: Buffer }[]> {
  return db
    .selectFrom('recovery_codes')
    .select(['id', 'code_hash as codeHash'])
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .orderBy('id')
    .execute();
}

/** Spends one code; false when another request spent it first. */
export async function spendRecoveryCode(db: Database, id: number, now: number): Promise<boolean> {
  const result = await db.updateTable('recovery_codes').set({ used_at: now }).where('id', '=', id).where('used_at', 'is', null).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

// ------------------------------------------------------------------ factor_requirements and the enrolment check

export async function isCompanyRequired(db: Database, companyId: number): Promise<boolean> {
  return (await db.selectFrom('factor_requirements').select('company_id').where('company_id', '=', companyId).executeTakeFirst()) !== undefined;
}

export async function setCompanyRequired(db: Database, companyId: number, required: boolean, by: number | null, now: number): Promise<void> {
  if (!required) {
    await db.deleteFrom('factor_requirements').where('company_id', '=', companyId).execute();
    return;
  }
  await db
    .insertInto('factor_requirements')
    .values({ company_id: companyId, required_at: now, required_by: by })
    .onConflict((oc) => oc.column('company_id').doNothing())
    .execute();
}

/** Whether the policy asks this user for a second factor, and whether they have one: one read, on every console request. */
export async function readEnrolmentState(db: Database, userId: number): Promise<{ required: boolean; hasTotp: boolean } | undefined> {
  const row = await db
    .selectFrom('users as u')
    .select((eb) => [
      eb
        .or([
          eb.exists(eb.selectFrom('factor_requirements as r').select('r.company_id').whereRef('r.company_id', '=', 'u.company_id')),
          eb.and([
            eb('u.is_operator', '=', 1),
            eb.exists(eb.selectFrom('settings as s').select('s.key').where('s.key', '=', OPERATORS_REQUIRE_KEY).where('s.value', '=', 'on')),
          ]),
        ])
        .as('required'),
      eb.exists(eb.selectFrom('totp_factors as t').select('t.id').whereRef('t.user_id', '=', 'u.id').where('t.confirmed_at', 'is not', null)).as('hasTotp'),
    ])
    .where('u.id', '=', userId)
    .executeTakeFirst();
  // Booleans on PostgreSQL, 0/1 on SQLite.
  return row ? { required: Boolean(row.required), hasTotp: Boolean(row.hasTotp) } : undefined;
}
