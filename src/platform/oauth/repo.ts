import { sql } from 'kysely';
import type { Compilable } from 'kysely';
import type { Database } from '../../db/connect';
import { preparedRead } from '../../db/prepared';
import { stateColumns } from '../../features/credentials/repo';
import type { CredentialState, WindowAlong } from '../../features/credentials/repo';
import type { KeyWindow } from '../signing-keys/repo';

/** What a Bearer request must know, read in one query: see tokenStateReader. */
export interface TokenState {
  /** The caller's throttle window, if it has one. */
  window?: WindowAlong;
  /** The state of the key that signed the token; undefined if no such key is stored. */
  key?: KeyWindow;
  revoked: boolean;
  /** The token's credential, if it exists (an API key's row too: workingClient refuses it). */
  client?: CredentialState;
}

type TokenStateRow = { [K in keyof CredentialState]: CredentialState[K] | null } & {
  windowStart: number | null;
  windowCount: number | null;
  keyStatus: KeyWindow['status'] | null;
  keyRetiredAt: number | null;
  keyPublishedUntil: number | null;
  revokedJti: string | null;
};

// Placeholder values for preparedRead.
const WINDOW_KEY = '\u0000window';
const KID = '\u0000kid';
const JTI = '\u0000jti';
const CREDENTIAL_ID = -1;

/**
 * Everything a Bearer request checks in the database, in one query on every request (no cache): the
 * caller's throttle window, the signing key's state, whether the token was revoked, and its client
 * with its company. So a rotation, a revocation or a revoke of the client by any process on the same
 * database bites on the very next request, for one round trip to PostgreSQL instead of four.
 */
export function tokenStateReader(db: Database): (windowKey: string, kid: string, jti: string, credentialId: number) => Promise<TokenState> {
  const read = preparedRead(
    db,
    db
      .selectFrom(sql<{ one: number }>`(select 1 as one)`.as('one'))
      .leftJoin('throttle_windows as tw', (join) => join.on('tw.key', '=', WINDOW_KEY))
      .leftJoin('signing_keys as k', (join) => join.on('k.kid', '=', KID))
      .leftJoin('revoked_tokens as r', (join) => join.on('r.jti', '=', JTI))
      // By primary key alone (the kind is checked by CredentialVerifier.workingClient): a second
      // condition let PostgreSQL's planner pick the (kind, identifier) index and scan a whole kind.
      .leftJoin('credentials as c', (join) => join.on('c.id', '=', CREDENTIAL_ID))
      .leftJoin('companies as co', 'co.id', 'c.company_id')
      .select([
        ...stateColumns(db),
        'tw.window_start as windowStart',
        'tw.count as windowCount',
        'k.status as keyStatus',
        'k.retired_at as keyRetiredAt',
        'k.published_until as keyPublishedUntil',
        'r.jti as revokedJti',
      ]) as unknown as Compilable<TokenStateRow>,
    [WINDOW_KEY, KID, JTI, CREDENTIAL_ID],
  );
  return async (windowKey, kid, jti, credentialId) => {
    const [row] = await read(windowKey, kid, jti, credentialId);
    return {
      window: row.windowStart !== null && row.windowCount !== null ? { windowStart: row.windowStart, count: row.windowCount } : undefined,
      key: row.keyStatus !== null ? { status: row.keyStatus, retiredAt: row.keyRetiredAt, publishedUntil: row.keyPublishedUntil } : undefined,
      revoked: row.revokedJti !== null,
      client: row.id !== null ? (row as CredentialState) : undefined,
    };
  };
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
