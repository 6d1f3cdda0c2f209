// `npm run bench`: how fast the platform API answers, measured fairly. Each server runs alone on
// one core and the load generator on the other (taskset); every cell starts one server, warms it,
// measures and stops it; rounds alternate direction and medians are compared with references
// measured in the same run. docs/benchmarks.md describes the method; `--help` lists the options.
'use strict';
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { parseOptions, UsageError, USAGE } = require('./lib/options');
const { assertPinning, pinSelf } = require('./lib/pinned');
const { clockTicksPerSecond } = require('./lib/proc');
const { planRows, wantsConsole, expressNoopRow } = require('./lib/targets');
const { measurePeak, measureLatency, summarizePeak, summarizeLatency, alternatingRounds } = require('./lib/measure');
const { buildChecks, buildReferenceRatios, buildGoals, baselineComparisons, runPassed, BASELINE_TOLERANCE } = require('./lib/checks');
const { markdown, saveResults } = require('./lib/report');
const { prepareBaseline, BaselineError } = require('./lib/baseline');
const { seedDataSet } = require('./lib/seed');
const { profilePhase } = require('./lib/profile');
const { cleanupAll, cleanupOnSignals, onCleanup } = require('./lib/cleanup');
const { startCluster } = require('../scripts/postgres-cluster');

const SMALL_OTHERS = 100;
const log = (line) => process.stderr.write(line + '\n');
const fmt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');

/**
 * The data sets our targets run on, in schedule order: the baseline build's small table (with
 * --baseline), then the current build's small and large tables. Each is seeded by its own build.
 */
function seedDataSets(options, baseline, cluster) {
  const sqlite = options.engines.includes('sqlite');
  const plans = [
    ...(baseline ? [{ size: 'small', others: SMALL_OTHERS, checkoutDir: baseline.dir, baseline: baseline.label, engine: options.engines[0], cluster }] : []),
    ...(sqlite ? [{ size: 'small', others: SMALL_OTHERS }] : []),
    // The 100k-credentials check is SQLite's (issue 15); on PostgreSQL the small table shows the engine's cost.
    ...(sqlite ? [{ size: 'large', others: options.large }] : []),
    ...(cluster ? [{ size: 'small', others: SMALL_OTHERS, engine: 'postgres', cluster }] : []),
  ];
  return plans.map((plan) => {
    const dataSet = seedDataSet(plan);
    log(
      `seeded ${dataSet.credentialCount.toLocaleString('en-US')} credentials${plan.baseline ? ` for baseline ${plan.baseline}` : ''} in ${dataSet.databaseUrl ?? dataSet.dataDir}`,
    );
    return dataSet;
  });
}

/** The baseline checkout, when --baseline is given and one of our targets is measured. */
function baselineFor(options) {
  if (!options.baseline) return undefined;
  if (!wantsConsole(options.only)) {
    log(`--baseline ${options.baseline}: none of our targets is measured (--only), so there is nothing to compare`);
    return undefined;
  }
  return prepareBaseline(options.baseline, { log });
}

const describe = (row) => (row.kind !== 'reference' ? `${row.id} (${row.credentialCount.toLocaleString('en-US')} credentials)` : row.id);

async function peakPhase(rows, options, clockTicks) {
  log(`peak: ${rows.length} targets x ${options.rounds} round(s) of ${options.duration} s`);
  const cells = await alternatingRounds(
    rows,
    options.rounds,
    (row) => measurePeak(row, options, clockTicks),
    (round, row, c) =>
      log(
        `  round ${round + 1}: ${describe(row)}: ${fmt(c.reqPerSec)} req/s, ${fmt(c.cpuUsPerRequest)} µs/request${c.valid ? '' : `, INVALID (${c.non2xx} non-2xx, ${c.errors} errors)`}`,
      ),
  );
  const peak = {};
  rows.forEach((row, i) => {
    const { id, label, kind, size, credentialCount, baseline } = row;
    peak[id] = { id, label, kind, size, credentialCount, baseline, summary: summarizePeak(cells[i]), cells: cells[i] };
  });
  return peak;
}

/** Each target on the small table at half its peak, beside the Express no-op at the same rate. */
async function latencyPhase(rows, peak, options) {
  const noop = expressNoopRow();
  const pairs = rows
    .filter(
      (row) => row.kind === 'target' && row.size === 'small' && row.engine === 'sqlite' && !row.metrics && Number.isFinite(peak[row.id].summary.reqPerSec),
    )
    .map((row) => ({ row, rate: Math.round(peak[row.id].summary.reqPerSec / 2) }))
    .filter((pair) => pair.rate >= 1);
  if (pairs.length === 0) return [];
  log(`latency: ${pairs.length} target(s) and the Express no-op at half each target's peak, ${options.rounds} round(s)`);
  const items = pairs.flatMap((p) => [
    { ...p, side: 'target' },
    { row: noop, rate: p.rate, side: 'noop' },
  ]);
  const cells = await alternatingRounds(
    items,
    options.rounds,
    (item) => measureLatency(item.row, item.rate, options),
    (round, item, c) =>
      log(
        `  round ${round + 1}: ${describe(item.row)} at ${fmt(item.rate)} req/s: p50 ${c.p50.toFixed(2)} ms, p99 ${c.p99.toFixed(2)} ms, max ${c.max.toFixed(1)} ms${c.valid ? '' : ', INVALID'}`,
      ),
  );
  return pairs.map((p, i) => ({
    targetId: p.row.targetId,
    label: p.row.label,
    rate: p.rate,
    target: { summary: summarizeLatency(cells[2 * i]), cells: cells[2 * i] },
    noop: { summary: summarizeLatency(cells[2 * i + 1]), cells: cells[2 * i + 1] },
  }));
}

function gitCommit() {
  try {
    const hash = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim();
    return dirty ? `${hash} (with uncommitted changes)` : hash;
  } catch {
    return 'unknown';
  }
}

const loadAverage = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

async function main(args) {
  const options = parseOptions(args);
  assertPinning([options.serverCpu, options.generatorCpu]);
  // Seeded data and the baseline's worktree go whatever happens: finished, failed or Ctrl-C.
  cleanupOnSignals(log);
  try {
    // Built before the runner pins itself, so that the baseline's build may use both cores.
    const baseline = baselineFor(options);
    pinSelf(options.generatorCpu);
    const meta = {
      startedAt: new Date().toISOString(),
      commit: gitCommit(),
      args,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0].model,
      node: process.version,
      loadBefore: loadAverage(),
    };
    // PostgreSQL shares the server's core (its backends do the console's queries), never the generator's.
    const cluster = options.engines.includes('postgres') && wantsConsole(options.only) ? await startCluster({ cpus: options.serverCpu }) : undefined;
    if (cluster) onCleanup(() => cluster.stop());
    const dataSets = wantsConsole(options.only) ? seedDataSets(options, baseline, cluster) : [];
    const rows = planRows(options.only, dataSets);
    const clockTicks = clockTicksPerSecond();
    const peak = await peakPhase(rows, options, clockTicks);
    const latency = options.latency ? await latencyPhase(rows, peak, options) : [];
    const profiles = options.profile ? await profilePhase(rows, options, clockTicks, log) : {};
    meta.loadAfter = loadAverage();
    const results = {
      meta,
      options,
      peak,
      latency,
      profiles,
      checks: buildChecks(peak, latency, profiles),
      references: buildReferenceRatios(peak),
      goals: buildGoals(peak, latency),
      baseline: baseline && {
        spec: baseline.spec,
        label: baseline.label,
        commit: baseline.commit,
        temporary: baseline.temporary,
        tolerance: BASELINE_TOLERANCE,
        comparisons: baselineComparisons(peak),
      },
    };
    const text = markdown(results);
    process.stdout.write(text);
    log(`results written to ${path.relative(process.cwd(), saveResults(results, text))}`);
    return runPassed(results.checks) ? 0 : 1;
  } finally {
    cleanupAll();
  }
}

main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((err) => {
    if (err instanceof BaselineError) {
      process.stderr.write(`bench: ${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof UsageError) {
      if (err.message) process.stderr.write(`bench: ${err.message} (--help lists the options)\n`);
      else process.stdout.write(`${USAGE}\n`);
      process.exit(err.message ? 2 : 0);
    }
    process.stderr.write(`bench failed: ${err.stack || err}\n`);
    process.exit(2);
  });
