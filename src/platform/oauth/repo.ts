import { sql } from 'kysely';
import type { Database } from '../../db/connect';
import { compileOnce } from '../compiled';

/** Compiled once: asked on every Bearer request, so a revocation by any process is seen at once. */
export function revokedTokenChecker(db: Database): (jti: string) => Promise<boolean> {
  const find = compileOnce(
    db,
    db
      .selectFrom('revoked_tokens')
      .select(sql<number>`1`.as('found'))
      .where('jti', '=', ''),
  );
  return async (jti) => (await find(jti)).length > 0;
}

export async function insertRevokedToken(db: Database, jti: string, credentialId: number, expiresAt: number, now: number): Promise<void> {
  await db
    .insertInto('revoked_tokens')
    .values({ jti, credential_id: credentialId, expires_at: expiresAt, revoked_at: now })
    .onConflict((oc) => oc.column('jti').doNothing())
    .execute();
}

export async function countExpiredRevokedTokens(db: Database, now: number): Promise<number> {
  const row = await db
    .selectFrom('revoked_tokens')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('expires_at', '<=', now)
    .executeTakeFirstOrThrow();
  return row.n;
}

/** A revoked token that has expired anyway needs no remembering. */
export async function pruneRevokedTokens(db: Database, now: number): Promise<number> {
  const result = await db.deleteFrom('revoked_tokens').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}
