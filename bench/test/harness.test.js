// Tests of the benchmark harness itself: `node --test bench/test/` (needs taskset and two cores).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { parseOptions, UsageError } = require('../lib/options');
const { isValid, measurePeak, measureLatency, alternatingRounds } = require('../lib/measure');
const { buildChecks, buildGoals, runPassed } = require('../lib/checks');
const { clockTicksPerSecond } = require('../lib/proc');

const OPTIONS = { serverCpu: 0, generatorCpu: 1, connections: 4, warmup: 0.2, duration: 1 };
const fixtureRow = (env) => ({
  id: 'fixture',
  server: { script: path.join(__dirname, '..', 'fixtures', 'test-server.js'), env: () => env },
  prepare: async (base) => ({ url: `${base}/`, method: 'GET', headers: {} }),
});

test('a peak cell measures req/s, server CPU per request and peak RSS of a pinned server', async () => {
  const cell = await measurePeak(fixtureRow({}), OPTIONS, clockTicksPerSecond());
  assert.equal(cell.valid, true);
  assert.equal(cell.non2xx, 0);
  assert.ok(cell.reqPerSec > 0);
  assert.ok(cell.cpuUsPerRequest > 0 && cell.cpuUsPerRequest < 10_000, `cpu ${cell.cpuUsPerRequest} µs/request`);
  assert.ok(cell.serverCoreBusy > 0 && cell.serverCoreBusy <= 1.05, `busy ${cell.serverCoreBusy}`);
  assert.ok(cell.peakRssMb > 10, `rss ${cell.peakRssMb} MB`);
});

test('a cell whose server answers more than 1% non-2xx is INVALID', async () => {
  const cell = await measurePeak(fixtureRow({ BENCH_TEST_FAIL_EVERY: '20' }), OPTIONS, clockTicksPerSecond());
  assert.equal(cell.valid, false);
  assert.ok(cell.non2xx > 0);
});

test('the 1% limit: 1 non-2xx in 100 is valid, 2 in 100 is not, and no 2xx at all is not', () => {
  assert.equal(isValid({ ok: 99, non2xx: 1, errors: 0 }), true);
  assert.equal(isValid({ ok: 98, non2xx: 1, errors: 1 }), false);
  assert.equal(isValid({ ok: 0, non2xx: 0, errors: 0 }), false);
});

test('the constant-rate generator shows a 150 ms server pause in p99 and max, and keeps its schedule', async () => {
  const cell = await measureLatency(fixtureRow({ BENCH_TEST_PAUSE_MS: '150' }), 400, { ...OPTIONS, warmup: 0, duration: 1.5 });
  assert.equal(cell.ok, 600); // 400/s for 1.5 s, whatever the server did
  assert.ok(cell.max >= 140, `max ${cell.max} ms`);
  // ~60 requests fell due during the pause; a closed loop would have sent one of them.
  assert.ok(cell.p99 >= 100, `p99 ${cell.p99} ms`);
  assert.ok(cell.p50 < cell.p99);
});

test('rounds alternate direction: forward, then backward', async () => {
  const order = [];
  await alternatingRounds(
    ['A', 'B', 'C'],
    3,
    async (item) => order.push(item),
    () => {},
  );
  assert.deepEqual(order, ['A', 'B', 'C', 'C', 'B', 'A', 'A', 'B', 'C']);
});

test('--quick is 1 round of 2 s; explicit options still win', () => {
  assert.deepEqual(pick(parseOptions(['--quick'])), { rounds: 1, duration: 2, warmup: 1, connections: 10 });
  assert.equal(parseOptions(['--quick', '--rounds', '3']).rounds, 3);
  assert.deepEqual(pick(parseOptions([])), { rounds: 5, duration: 8, warmup: 2, connections: 10 });
});

test('--engine takes sqlite, postgres or both; other engines and unknown --only names are refused with a clear message', () => {
  assert.deepEqual(parseOptions([]).engines, ['sqlite']);
  assert.deepEqual(parseOptions(['--engine', 'postgres']).engines, ['postgres']);
  assert.deepEqual(parseOptions(['--engine', 'sqlite,postgres']).engines, ['sqlite', 'postgres']);
  assert.throws(
    () => parseOptions(['--engine', 'mysql']),
    (err) => err instanceof UsageError && /takes sqlite, postgres or sqlite,postgres/.test(err.message),
  );
  assert.throws(
    () => parseOptions(['--only', 'verify,nope']),
    (err) => err instanceof UsageError && /unknown: nope/.test(err.message),
  );
  assert.deepEqual(parseOptions(['--only', 'verify,express-noop']).only, ['verify', 'express-noop']);
});

test('an INVALID cell fails the run; an unmet goal does not', () => {
  const row = (id, reqPerSec, invalidCells = 0) => ({ id, label: id, kind: 'reference', summary: { reqPerSec, invalidCells, peakRssMb: 50 }, cells: [{}] });
  const peak = {
    'express-noop': row('express-noop', 10_000),
    'oidc-token': row('oidc-token', 5_000),
    'ideal-token': row('ideal-token', 5_000),
    token: row('token', 5_500),
  };
  const goals = buildGoals(peak, []);
  assert.equal(goals.find((g) => /1.2x oidc-provider/.test(g.what)).pass, false);
  assert.equal(runPassed(buildChecks(peak, [])), true);
  peak.token.summary.invalidCells = 1;
  assert.equal(runPassed(buildChecks(peak, [])), false);
});

function pick({ rounds, duration, warmup, connections }) {
  return { rounds, duration, warmup, connections };
}

test("issue 12's floor fails the run when a verify endpoint on PostgreSQL answers below 0.5x the Express no-op", () => {
  const row = (id, reqPerSec) => ({ id, label: id, kind: 'ours', summary: { reqPerSec, invalidCells: 0, peakRssMb: 50 }, cells: [{}] });
  const peak = {
    'express-noop': row('express-noop', 10_000),
    'me-bearer@postgres': row('me-bearer@postgres', 5_000),
    'verify@postgres': row('verify@postgres', 6_000),
  };
  const floors = buildChecks(peak, []).filter((c) => /0.5x Express no-op/.test(c.what));
  assert.deepEqual(
    floors.map((c) => [c.what, c.value, c.pass]),
    [
      ['me-bearer@postgres >= 0.5x Express no-op req/s', 0.5, true],
      ['verify@postgres >= 0.5x Express no-op req/s', 0.6, true],
    ],
  );
  assert.equal(runPassed(buildChecks(peak, [])), true);
  peak['me-bearer@postgres'].summary.reqPerSec = 4_999;
  assert.equal(runPassed(buildChecks(peak, [])), false);
  // Not measured (no no-op row): neither passes nor fails.
  delete peak['express-noop'];
  assert.equal(buildChecks(peak, []).find((c) => /verify@postgres/.test(c.what)).pass, null);
});
