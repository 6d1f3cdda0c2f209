import pg from 'pg';
import { sql } from 'kysely';
import type { Compilable } from 'kysely';
import { batchingLane } from '../src/db/batched-reads';
import { connect } from '../src/db/connect';
import type { Connection } from '../src/db/connect';
import { preparedRead } from '../src/db/prepared';
import { runningCluster, startCluster } from './support/postgres';
import type { Cluster, ClusterAt } from './support/postgres';

// PostgreSQL's fast lane batches the prepared reads asked together (src/db/batched-reads.ts, decision
// 0022). It is PostgreSQL's alone, so this file runs on a PostgreSQL cluster on either engine's run: the
// run's own (TEST_ENGINE=postgres), or one it starts.

type Row = { n: number; k: string };
const KEY = '\u0000key';

describe('prepared reads on PostgreSQL, batched when asked together', () => {
  let cluster: ClusterAt;
  let ownCluster: Cluster | undefined;
  let url: string;
  let connection: Connection;
  let statements: string[];

  beforeAll(async () => {
    const running = runningCluster();
    cluster = running ?? (ownCluster = await startCluster());
    const name = `batched_${process.pid}`;
    cluster.psql(`CREATE DATABASE ${name}`);
    url = cluster.url(name);
    cluster.psql('CREATE TABLE items (k text NOT NULL, n integer NOT NULL)', name);
    cluster.psql("INSERT INTO items VALUES ('a', 1), ('a', 2), ('a', 3), ('b', 10), ('c', 20)", name);
  }, 120_000);
  afterAll(() => ownCluster?.stop());

  beforeEach(() => {
    statements = [];
    connection = connect({ databaseUrl: url, databaseFile: '', poolSize: 2, onQuery: (text) => statements.push(text) });
  });
  afterEach(() => connection.close());

  /** The rows of `items` with key k, n in descending order (a test table: the query builder knows it through withTables). */
  function itemsByKey() {
    const query = connection.db
      .withTables<{ items: Row }>()
      .selectFrom('items')
      .select(['n', 'k'])
      .where('k', '=', KEY)
      .orderBy('n', 'desc') as Compilable<Row>;
    return preparedRead(connection.db, query, [KEY]);
  }

  const batches = () => statements.filter((text) => text.startsWith('select p.i'));

  it('sends reads asked while one is in flight together, as one statement, and gives each exactly its own rows in its order', async () => {
    const read = itemsByKey();
    const keys = ['a', 'b', 'a', 'none', 'c', 'b'];
    const answers = await Promise.all(keys.map((k) => read(k)));
    expect(answers.map((rows) => rows.map((row) => row.n))).toEqual([[3, 2, 1], [10], [3, 2, 1], [], [20], [10]]);
    expect(answers[4]).toEqual([{ n: 20, k: 'c' }]);
    // The first went alone at once; the five asked meanwhile went in one batch.
    expect(statements).toHaveLength(2);
    expect(batches()).toHaveLength(1);
  });

  it('sends a read alone when nothing of its kind is in flight', async () => {
    const read = itemsByKey();
    expect((await read('b')).map((row) => row.n)).toEqual([10]);
    expect((await read('c')).map((row) => row.n)).toEqual([20]);
    expect(statements).toHaveLength(2);
    expect(batches()).toHaveLength(0);
  });

  it('fails only the read whose value PostgreSQL refuses (a NUL in a text), not the others of its batch', async () => {
    const read = itemsByKey();
    const results = await Promise.allSettled(['a', 'b', 'bad\u0000key', 'c'].map((k) => read(k)));
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: '22021' });
    expect((results[3] as PromiseFulfilledResult<Row[]>).value.map((row) => row.n)).toEqual([20]);
    // The batch failed on the value, and its reads then went alone.
    expect(batches()).toHaveLength(1);
    expect(statements.length).toBe(1 + 1 + 3);
  });

  it('lets a read asked after a write was committed see it, even while an earlier read is in flight', async () => {
    const read = itemsByKey();
    const first = read('d');
    await sql`insert into items values ('d', 40)`.execute(connection.db);
    const second = read('d');
    expect((await second).map((row) => row.n)).toEqual([40]);
    await first;
    await sql`delete from items where k = 'd'`.execute(connection.db);
  });

  it('sends at most maxBatch reads in one statement', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    const sent: string[] = [];
    const lane = batchingLane(pool, { observe: (text, run) => (sent.push(text), run()), maxBatch: 2 });
    try {
      const text = 'select n from items where k = $1 order by n';
      const answers = await Promise.all(['a', 'b', 'c', 'a', 'b', 'c'].map(async (k) => lane.run(text, [k])));
      expect(answers.map((rows) => (rows as Row[]).map((row) => row.n))).toEqual([[1, 2, 3], [10], [20], [1, 2, 3], [10], [20]]);
      // One alone, then five in batches of two, two and one (the last goes alone).
      expect(sent.map((s) => (s.startsWith('select p.i') ? 'batch' : 'alone'))).toEqual(['alone', 'batch', 'batch', 'alone']);
    } finally {
      await pool.end();
    }
  });

  it('keeps a connection that PostgreSQL answered with an error (a bad value), and drops none for it', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    let removed = 0;
    pool.on('remove', () => removed++);
    const lane = batchingLane(pool, { observe: (_text, run) => run() });
    try {
      const text = 'select n from items where k = $1';
      await expect(Promise.resolve(lane.run(text, ['bad\u0000key']))).rejects.toMatchObject({ code: '22021' });
      expect(await lane.run(text, ['b'])).toEqual([{ n: 10 }]);
      expect(removed).toBe(0);
      expect(pool.totalCount).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it('plans its statements once on its own connections, leaving every other statement to the default planning', async () => {
    const setting = () => connection.db.selectNoFrom(sql<string>`current_setting('plan_cache_mode')`.as('mode'));
    const laneRead = preparedRead(connection.db, setting() as Compilable<{ mode: string }>, []);
    expect(await laneRead()).toEqual([{ mode: 'force_generic_plan' }]);
    expect(await setting().executeTakeFirstOrThrow()).toEqual({ mode: 'auto' });
  });

  it('survives PostgreSQL dropping its idle connections: it is told, and the next read opens another', async () => {
    const dropped: Error[] = [];
    const own = connect({ databaseUrl: url, databaseFile: '', poolSize: 1, onConnectionError: (err) => dropped.push(err) });
    try {
      const read = preparedRead(own.db, own.db.withTables<{ items: Row }>().selectFrom('items').select(['n', 'k']).where('k', '=', KEY) as Compilable<Row>, [
        KEY,
      ]);
      expect((await read('b')).map((row) => row.n)).toEqual([10]);
      await own.db.selectNoFrom(sql<number>`1`.as('one')).execute();
      cluster.psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${url.split('/').pop()!}' AND pid <> pg_backend_pid()`);
      for (let i = 0; i < 100 && dropped.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(dropped.length).toBeGreaterThanOrEqual(2); // Kysely's pool and the lane's
      expect((await read('c')).map((row) => row.n)).toEqual([20]);
      expect(await own.db.selectNoFrom(sql<number>`2`.as('two')).executeTakeFirstOrThrow()).toEqual({ two: 2 });
    } finally {
      await own.close();
    }
  });
});
