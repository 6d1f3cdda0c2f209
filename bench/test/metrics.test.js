// Issue 16 in the benchmark: each hot endpoint measured with metrics off and on, back to back, and the
// paired ratio checked (`node --test bench/test/`).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { planRows, BENCH_METRICS_TOKEN } = require('../lib/targets');
const { buildChecks, metricsOverheadChecks, runPassed, METRICS_TOLERANCE } = require('../lib/checks');

const dataSet = (fields) => ({ dataDir: `/tmp/${fields.size}`, checkoutDir: '/checkout', caller: {}, credentialCount: 101, ...fields });
const DATA_SETS = [
  dataSet({ size: 'small', baseline: 'abc1234', checkoutDir: '/baseline' }),
  dataSet({ size: 'small' }),
  dataSet({ size: 'large', credentialCount: 50_101 }),
  dataSet({ size: 'small', engine: 'postgres', databaseUrl: 'postgres://bench@127.0.0.1/bench' }),
];

test("each target on the current build's small tables runs again with metrics on, right after the same server with them off", () => {
  const ids = planRows(['verify'], DATA_SETS).map((row) => row.id);
  assert.deepEqual(ids, ['verify@baseline', 'verify', 'verify+metrics', 'verify@large', 'verify@postgres', 'verify@postgres+metrics']);
});

test('only the +metrics rows start the server with METRICS_TOKEN', () => {
  for (const row of planRows(['token', 'me-basic'], DATA_SETS)) {
    const env = row.server.env(4000);
    assert.equal(env.METRICS_TOKEN, row.id.endsWith('+metrics') ? BENCH_METRICS_TOKEN : undefined, row.id);
    assert.equal(row.metrics, row.id.endsWith('+metrics'), row.id);
  }
  assert.ok(BENCH_METRICS_TOKEN.length >= 16); // the server refuses a shorter one
});

/** A peak row as the run builds it, from req/s per round (null: an INVALID cell). */
const row = (id, rates) => ({
  id,
  label: id,
  kind: 'target',
  summary: { reqPerSec: 1, invalidCells: 0, peakRssMb: 50 },
  cells: rates.map((reqPerSec) => ({ reqPerSec, cpuUsPerRequest: 100, valid: reqPerSec !== null })),
});

test('the check is the median of the paired on/off ratios, at least 0.97x', () => {
  assert.equal(METRICS_TOLERANCE.minReqPerSecRatio, 0.97);
  const peak = { verify: row('verify', [10_000, 9_000, 11_000]), 'verify+metrics': row('verify+metrics', [9_800, 8_900, 10_000]) };
  const [check] = metricsOverheadChecks(peak);
  assert.match(check.what, /verify: req\/s with metrics on >= 0.97x metrics off/);
  assert.equal(check.value.toFixed(4), '0.9800'); // ratios 0.98, 0.989 and 0.909: the median is 0.98
  assert.equal(check.pass, true);
  assert.equal(runPassed(buildChecks(peak, [])), true);
});

test('metrics that cost more than 3% req/s fail the run', () => {
  const peak = { 'me-basic': row('me-basic', [10_000, 10_000, 10_000]), 'me-basic+metrics': row('me-basic+metrics', [9_600, 9_500, 9_900]) };
  assert.equal(metricsOverheadChecks(peak)[0].pass, false);
  assert.equal(runPassed(buildChecks(peak, [])), false);
});

test('a round with an INVALID cell on either side is left out of the pairs; PostgreSQL rows are paired the same way', () => {
  const peak = {
    'verify@postgres': row('verify@postgres', [1_000, null, 1_000]),
    'verify@postgres+metrics': row('verify@postgres+metrics', [990, 500, 980]),
  };
  const [check] = metricsOverheadChecks(peak);
  assert.equal(check.value.toFixed(3), '0.985');
  assert.equal(check.pass, true);
});
