import type { Database } from '../../db/connect';

/** One credential's uses in one UTC hour, by kind of use. */
export interface HourUsage {
  hour: number;
  basic: number;
  token: number;
  bearer: number;
}

export interface UsageRow extends HourUsage {
  credentialId: number;
}

export interface LastCaller {
  credentialId: number;
  at: number;
  address: string;
  userAgent: string;
}

/**
 * Adds one hour's counts to what the database holds for it: an upsert that increments, so flushes of
 * several processes (each with its own counts) add up instead of overwriting. The same SQL text every call.
 */
export async function addHourUsage(db: Database, credentialId: number, usage: HourUsage): Promise<void> {
  await db
    .insertInto('credential_usage')
    .values({ credential_id: credentialId, hour: usage.hour, basic_checks: usage.basic, tokens_issued: usage.token, bearer_checks: usage.bearer })
    .onConflict((oc) =>
      oc.columns(['credential_id', 'hour']).doUpdateSet((eb) => ({
        basic_checks: eb('credential_usage.basic_checks', '+', eb.ref('excluded.basic_checks')),
        tokens_issued: eb('credential_usage.tokens_issued', '+', eb.ref('excluded.tokens_issued')),
        bearer_checks: eb('credential_usage.bearer_checks', '+', eb.ref('excluded.bearer_checks')),
      })),
    )
    .execute();
}

/** Records a credential's last caller, unless a later one is already there: it only ever moves forward. */
export async function recordLastCaller(db: Database, caller: LastCaller): Promise<void> {
  await db
    .insertInto('credential_callers')
    .values({ credential_id: caller.credentialId, used_at: caller.at, address: caller.address, user_agent: caller.userAgent })
    .onConflict((oc) =>
      oc
        .column('credential_id')
        .doUpdateSet((eb) => ({ used_at: eb.ref('excluded.used_at'), address: eb.ref('excluded.address'), user_agent: eb.ref('excluded.user_agent') }))
        .where('credential_callers.used_at', '<=', (eb) => eb.ref('excluded.used_at')),
    )
    .execute();
}

/** Deletes the hours that began before `cutoff`; returns how many rows went. */
export async function deleteUsageBefore(db: Database, cutoff: number): Promise<number> {
  const result = await db.deleteFrom('credential_usage').where('hour', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** The credentials' hours from `since` on, oldest first. */
export async function listUsageSince(db: Database, credentialIds: number[], since: number): Promise<UsageRow[]> {
  if (credentialIds.length === 0) return [];
  return db
    .selectFrom('credential_usage')
    .select(['credential_id as credentialId', 'hour', 'basic_checks as basic', 'tokens_issued as token', 'bearer_checks as bearer'])
    .where('credential_id', 'in', credentialIds)
    .where('hour', '>=', since)
    .orderBy('credential_id')
    .orderBy('hour')
    .execute();
}

export async function listLastCallers(db: Database, credentialIds: number[]): Promise<LastCaller[]> {
  if (credentialIds.length === 0) return [];
  return db
    .selectFrom('credential_callers')
    .select(['credential_id as credentialId', 'used_at as at', 'address', 'user_agent as userAgent'])
    .where('credential_id', 'in', credentialIds)
    .execute();
}
