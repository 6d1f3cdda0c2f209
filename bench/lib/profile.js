// What the metrics cost inside the server (issue 16), measured where the machine's drift cannot reach:
// one more cell per "metrics on" row, with V8's sampling profiler on (`node --cpu-prof`), and the share
// of the server's busy samples spent in metrics code. Paired req/s ratios between two cells move with
// the machine by more than the 3% asked; a share of one process's own samples does not.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { measurePeak } = require('./measure');

/** Code that exists only for the metrics: a sample with any of these on its stack is metrics work. */
const METRICS_CODE = [/\/dist\/src\/metrics\//, /\/node_modules\/prom-client\//, /\/dist\/src\/platform\/observe\.js$/];
/**
 * Our functions that run only to time something for the metrics, without being metrics code themselves: a sample
 * whose nearest frame of our own code is one of these (its own lines, or Node built-ins it calls, such as
 * performance.now) is metrics work; what they wrap (the statement, the handler) is not.
 */
const TIMING_WRAPPERS = [
  { file: /\/dist\/src\/db\/connect\.js$/, name: 'observed' },
  { file: /\/dist\/src\/platform\/fast-path\.js$/, name: 'done' },
];
const OUR_CODE = /\/dist\/src\//;
/** Not busy: the process was waiting. (program) and (garbage collector) are busy time. */
const IDLE = '(idle)';

/**
 * { busyMs, metricsMs, share } of a .cpuprofile (Chrome DevTools format: nodes with parent links by
 * `children`, `samples` naming the leaf node of each sample, `timeDeltas` the time before each).
 */
function metricsShare(profile) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const verdicts = new Map();
  const isMetricsWork = (leafId) => {
    if (verdicts.has(leafId)) return verdicts.get(leafId);
    let verdict = false;
    let nearestOurs = true; // until the first frame of our own code is passed
    for (let id = leafId; id !== undefined; id = parentOf.get(id)) {
      const { url, functionName } = nodes.get(id).callFrame;
      if (METRICS_CODE.some((re) => re.test(url))) {
        verdict = true;
        break;
      }
      if (nearestOurs && OUR_CODE.test(url)) {
        nearestOurs = false;
        if (TIMING_WRAPPERS.some((w) => w.name === functionName && w.file.test(url))) {
          verdict = true;
          break;
        }
      }
    }
    verdicts.set(leafId, verdict);
    return verdict;
  };
  let busy = 0;
  let metrics = 0;
  profile.samples.forEach((id, i) => {
    if (nodes.get(id).callFrame.functionName === IDLE) return;
    const dt = profile.timeDeltas[i] ?? 0;
    busy += dt;
    if (isMetricsWork(id)) metrics += dt;
  });
  return { busyMs: busy / 1000, metricsMs: metrics / 1000, share: busy > 0 ? metrics / busy : NaN };
}

/** The one .cpuprofile the server wrote into `dir` when it stopped. */
function readProfile(dir) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length !== 1) throw new Error(`expected one CPU profile in ${dir}, found ${files.length}`);
  return JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8'));
}

/**
 * One profiled cell per "metrics on" row (warm-up and duration as the peak cells; the profiler's own cost
 * lowers req/s, so those cells count in no other figure). Returns { [rowId]: { label, busyMs, metricsMs, share, reqPerSec } }.
 */
async function profilePhase(rows, options, clockTicks, log) {
  const profiled = rows.filter((row) => row.metrics);
  if (profiled.length === 0) return {};
  log(`profile: ${profiled.length} row(s) with metrics on, one profiled cell each`);
  const results = {};
  for (const row of profiled) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-bench-profile-'));
    try {
      const server = { ...row.server, nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] };
      const cell = await measurePeak({ ...row, server }, options, clockTicks);
      const share = metricsShare(readProfile(dir));
      results[row.id] = { label: row.label, reqPerSec: cell.reqPerSec, valid: cell.valid, ...share };
      log(`  ${row.id}: metrics ${(100 * share.share).toFixed(2)}% of ${Math.round(share.busyMs)} ms busy`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return results;
}

module.exports = { metricsShare, profilePhase, METRICS_CODE, TIMING_WRAPPERS };
