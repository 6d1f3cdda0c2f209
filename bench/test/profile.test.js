// Issue 16 in one process: the share of a profiled server's busy CPU time spent in metrics code (`node --test bench/test/`).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { metricsShare, profilePhase } = require('../lib/profile');
const { buildChecks, metricsProfileChecks, runPassed } = require('../lib/checks');
const { clockTicksPerSecond } = require('../lib/proc');

const SRC = 'file:///app/dist/src';
/** A .cpuprofile from a tree { name, url, ms (self samples, 1 ms each), children }. */
function profileOf(tree) {
  const nodes = [];
  const samples = [];
  let next = 1;
  const add = (node) => {
    const id = next++;
    const entry = { id, callFrame: { functionName: node.name, url: node.url ?? '' }, children: [] };
    nodes.push(entry);
    for (let i = 0; i < (node.ms ?? 0); i++) samples.push(id);
    for (const child of node.children ?? []) entry.children.push(add(child));
    return id;
  };
  add(tree);
  return { nodes, samples, timeDeltas: samples.map(() => 1000) };
}

test('idle samples are not busy time; metrics code counts with everything it calls', () => {
  const profile = profileOf({
    name: '(root)',
    children: [
      { name: '(idle)', ms: 500 },
      { name: 'handler', url: `${SRC}/platform/verify/handlers.js`, ms: 60 },
      {
        name: 'observe',
        url: `${SRC}/platform/observe.js`,
        ms: 2,
        children: [{ name: 'inc', url: 'file:///app/node_modules/prom-client/lib/counter.js', ms: 3, children: [{ name: 'now', ms: 1 }] }],
      },
      { name: 'observe', url: `${SRC}/metrics/metrics.js`, ms: 4 },
      { name: '(garbage collector)', ms: 30 },
    ],
  });
  const share = metricsShare(profile);
  assert.equal(share.busyMs, 100);
  assert.equal(share.metricsMs, 10);
  assert.equal(share.share, 0.1);
});

test("a timing wrapper's own time is metrics work, what it wraps is not", () => {
  const profile = profileOf({
    name: '(root)',
    children: [
      {
        name: 'observed',
        url: `${SRC}/db/connect.js`,
        ms: 2,
        children: [
          { name: 'now', ms: 3 }, // performance.now, called by observed itself
          { name: 'read', url: `${SRC}/db/connect.js`, ms: 10, children: [{ name: 'all', ms: 80 }] }, // the statement
        ],
      },
      { name: 'done', url: `${SRC}/platform/fast-path.js`, ms: 1, children: [{ name: 'now', ms: 1 }] },
      { name: 'done', url: `${SRC}/other.js`, ms: 3 }, // the same name elsewhere is not a timing wrapper
    ],
  });
  const share = metricsShare(profile);
  assert.equal(share.busyMs, 100);
  assert.equal(share.metricsMs, 7);
});

test('a share below 3% passes; 3% or more fails the run; a row not profiled is not measured', () => {
  const checks = (share) => metricsProfileChecks({ 'verify+metrics': { label: 'verify with metrics on', share } });
  assert.equal(checks(0.0299)[0].pass, true);
  assert.equal(checks(0.03)[0].pass, false);
  assert.equal(checks(NaN)[0].pass, null);
  const peak = {};
  assert.equal(runPassed(buildChecks(peak, [], { 'verify+metrics': { label: 'v', share: 0.05 } })), false);
  assert.equal(runPassed(buildChecks(peak, [], { 'verify+metrics': { label: 'v', share: 0.01 } })), true);
});

test('a profiled cell of a real pinned server finds the half of its work done in metrics code', async () => {
  const row = {
    id: 'fixture+metrics',
    label: 'fixture with metrics on',
    metrics: true,
    server: { script: path.join(__dirname, '..', 'fixtures', 'profiled-server.js'), env: () => ({}) },
    prepare: async (base) => ({ url: `${base}/`, method: 'GET', headers: {} }),
  };
  const options = { serverCpu: 0, generatorCpu: 1, connections: 2, warmup: 0.3, duration: 1.5 };
  const logged = [];
  const profiles = await profilePhase([{ ...row, metrics: false, id: 'fixture' }, row], options, clockTicksPerSecond(), (line) => logged.push(line));
  assert.deepEqual(Object.keys(profiles), ['fixture+metrics']); // only rows with metrics on are profiled
  const p = profiles['fixture+metrics'];
  assert.equal(p.valid, true);
  assert.ok(p.busyMs > 100, `busy ${p.busyMs} ms`);
  // Half of each request's own work; less than half of all busy time (HTTP, start-up and warm-up count too).
  assert.ok(p.share > 0.25 && p.share < 0.6, `share ${p.share}`);
});
