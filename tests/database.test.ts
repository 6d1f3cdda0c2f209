import { sql } from 'kysely';
import { transaction } from '../src/db/connect';
import type { Connection } from '../src/db/connect';
import { renderMigration } from '../src/db/migrate';
import { openTestDatabase, TEST_ENGINE } from './helpers';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The data layer's promises, on whichever engine this run uses (npm test: SQLite; TEST_ENGINE=postgres: PostgreSQL). */
describe(`the database layer on ${TEST_ENGINE}`, () => {
  let dir: string;
  let opened: ReturnType<typeof openTestDatabase>;
  let connection: Connection;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-db-'));
    opened = openTestDatabase(path.join(dir, 'console.sqlite'));
    connection = opened.connection;
  });
  afterEach(async () => {
    await connection.close();
    opened.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const newCompany = (name: string) => connection.db.insertInto('companies').values({ name, created_at: Date.now() }).returning('id').executeTakeFirstOrThrow();

  it('migrates every table, and assigns ids as numbers', async () => {
    const { id } = await newCompany('Acme');
    expect(typeof id).toBe('number');
    const row = await connection.db.selectFrom('companies').select(['id', 'created_at']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(typeof row.created_at).toBe('number'); // BIGINT on PostgreSQL comes back as a number, not a string
    const count = await connection.db
      .selectFrom('scopes')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    expect(count.n).toBe(4);
  });

  it('compares company names and emails without case, as SQLite NOCASE did', async () => {
    await newCompany('Acme');
    // better-sqlite3's errors come from a native module loaded once per process, so in a later Jest test file they
    // are not `instanceof Error` of that file's realm (toThrow would not see them): match the message instead.
    const refused = await newCompany('ACME').then(
      () => 'inserted',
      (err: unknown) => String((err as { message?: unknown }).message),
    );
    expect(refused).toMatch(/unique/i);
    const found = await connection.db.selectFrom('companies').select('name').where('name', '=', 'aCmE').executeTakeFirst();
    expect(found?.name).toBe('Acme');
  });

  it('keeps bytes as bytes', async () => {
    const { id: companyId } = await newCompany('Acme');
    const hash = Buffer.from([0, 1, 2, 250, 255]);
    await connection.db
      .insertInto('credentials')
      .values({ company_id: companyId, kind: 'basic', identifier: 'acme-api', secret_prefix: 'cxk_', secret_hash: hash, status: 'pending', created_at: 1 })
      .execute();
    const row = await connection.db.selectFrom('credentials').select('secret_hash').where('secret_hash', '=', hash).executeTakeFirstOrThrow();
    expect(Buffer.compare(row.secret_hash, hash)).toBe(0);
  });

  it('rolls a transaction back whole when it throws, and runs a nested one inside the outer', async () => {
    await expect(
      transaction(connection.db, async (trx) => {
        await trx.insertInto('settings').values({ key: 'a', value: '1' }).execute();
        await transaction(trx, (inner) => inner.insertInto('settings').values({ key: 'b', value: '2' }).execute());
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(await connection.db.selectFrom('settings').selectAll().execute()).toEqual([]);
  });

  it('makes writers take turns: concurrent read-then-write transactions lose no update', async () => {
    await connection.db.insertInto('settings').values({ key: 'counter', value: '0' }).execute();
    // PostgreSQL: two pools, as two replicas would hold. SQLite: one process has one connection, whose
    // transactions queue behind each other (another process would wait on BEGIN IMMEDIATE's lock).
    const others = TEST_ENGINE === 'postgres' ? [opened.another(), opened.another()] : [opened.another()];
    try {
      const increment = (c: Connection) =>
        transaction(c.db, async (trx) => {
          const { value } = await trx.selectFrom('settings').select('value').where('key', '=', 'counter').executeTakeFirstOrThrow();
          await sql`select 1`.execute(trx); // another await between the read and the write, where a race would slip in
          await trx
            .updateTable('settings')
            .set({ value: String(Number(value) + 1) })
            .where('key', '=', 'counter')
            .execute();
        });
      await Promise.all(Array.from({ length: 20 }, (_, i) => increment(others[i % others.length])));
      const { value } = await connection.db.selectFrom('settings').select('value').where('key', '=', 'counter').executeTakeFirstOrThrow();
      expect(value).toBe('20');
    } finally {
      await Promise.all(others.map((c) => c.close()));
    }
  });
});

describe('renderMigration', () => {
  it('renders the engine words for each engine and refuses an unknown one', () => {
    const text = 'CREATE TABLE t (id {{id}}, n {{int}}, b {{blob}}, name {{nocase}} NOT NULL) {{strict}};';
    expect(renderMigration(text, 'sqlite')).toBe('CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, b BLOB, name TEXT COLLATE NOCASE NOT NULL) STRICT;');
    expect(renderMigration(text, 'postgres')).toBe(
      'CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT, b BYTEA, name CITEXT NOT NULL) ;',
    );
    expect(() => renderMigration('x {{float}}', 'sqlite')).toThrow('Unknown word {{float}} in a migration; known: id, int, blob, nocase, strict');
  });
});
