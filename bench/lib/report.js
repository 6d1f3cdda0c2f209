// The run's results as Markdown (printed, ready to paste into docs/benchmarks.md) and as JSON
// (bench/results/latest.json, for tools and for comparing runs).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const RESULTS_DIR = path.join(__dirname, '..', 'results');
/** Below this share of its core, a server was not what limited the req/s figure. */
const SATURATED = 0.9;
const DIGITS = { x: 2, ' MB': 1 };

const known = (v) => typeof v === 'number' && Number.isFinite(v);
const fmt = (n, digits = 0) => (known(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '-');
const pct = (share) => (known(share) ? `${Math.round(share * 100)}%` : '-');

function rowLabel(row) {
  if (row.kind === 'baseline') return `baseline ${row.baseline}: ${row.label}, ${fmt(row.credentialCount)} credentials`;
  return row.kind === 'target' ? `${row.label}, ${fmt(row.credentialCount)} credentials` : row.label;
}

function invalidNote(summary, cells) {
  return summary.invalidCells ? ` INVALID (${summary.invalidCells} of ${cells} cells)` : '';
}

function peakTable(peak) {
  const noop = peak['express-noop']?.summary.reqPerSec;
  const lines = [
    '| target | req/s | x Express no-op | server CPU µs/request | server core busy | non-2xx / errors | peak RSS MB |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of Object.values(peak)) {
    const s = row.summary;
    const unsaturated = known(s.serverCoreBusy) && s.serverCoreBusy < SATURATED ? ' †' : '';
    lines.push(
      `| ${rowLabel(row)}${invalidNote(s, row.cells.length)} | ${fmt(s.reqPerSec)}${unsaturated} | ${fmt(s.reqPerSec / noop, 2)} | ${fmt(s.cpuUsPerRequest)} | ${pct(s.serverCoreBusy)} | ${fmt(s.non2xx)} / ${fmt(s.errors)} | ${fmt(s.peakRssMb, 1)} |`,
    );
  }
  lines.push('', `† the server's core was less than ${pct(SATURATED)} busy: the load generator (or the rest of the machine) set this figure, not the server.`);
  return lines;
}

function latencyTable(latency) {
  const lines = [
    '| target | offered req/s | p50 ms | p99 ms | max ms | Express no-op p50 ms | p99 ms | max ms | p99 x no-op | generator lag p99 ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const pair of latency) {
    const t = pair.target.summary;
    const n = pair.noop.summary;
    const invalid = invalidNote(t, pair.target.cells.length) + (n.invalidCells ? ' (no-op INVALID)' : '');
    lines.push(
      `| ${pair.label}${invalid} | ${fmt(pair.rate)} | ${fmt(t.p50, 2)} | ${fmt(t.p99, 2)} | ${fmt(t.max, 1)} | ${fmt(n.p50, 2)} | ${fmt(n.p99, 2)} | ${fmt(n.max, 1)} | ${fmt(t.p99 / n.p99, 2)} | ${fmt(Math.max(t.sendLagP99, n.sendLagP99), 2)} |`,
    );
  }
  return lines;
}

function verdictTable(heading, items, words) {
  const lines = [`| ${heading} | measured | result |`, '|---|---:|---|'];
  for (const c of items) {
    const result = c.pass === null ? 'not measured' : c.pass ? words[0] : words[1];
    lines.push(`| ${c.what} | ${c.shown ?? `${fmt(c.value, DIGITS[c.unit] ?? 0)}${c.unit}`} | ${result} |`);
  }
  return lines;
}

/** max/min - 1 of the valid cells' req/s: how much the same server moved from round to round. */
function spread(cells) {
  const values = cells.filter((c) => c.valid).map((c) => c.reqPerSec);
  return values.length > 1 ? `; spread ${pct(Math.max(...values) / Math.min(...values) - 1)}` : '';
}

function roundsList(peak, comparisons) {
  const rows = Object.values(peak).map((row) => {
    const cell = (c) => `${fmt(c.reqPerSec)}${c.valid ? '' : ' INVALID'} (${fmt(c.cpuUsPerRequest)} µs)`;
    return `- ${rowLabel(row)}: ${row.cells.map(cell).join(', ')}${spread(row.cells)}`;
  });
  const ratios = (values) => values.map((v) => fmt(v, 2)).join(', ') || '-';
  const paired = comparisons.map((c) => `- ${c.label}, current/baseline per round: req/s ${ratios(c.reqPerSecRatios)}; CPU µs/request ${ratios(c.cpuRatios)}`);
  return [...rows, ...paired];
}

/** min-max of the paired ratios: how far apart the rounds were, beside the median that is checked. */
const range = (ratios) => (ratios.length > 1 ? ` (${fmt(Math.min(...ratios), 2)}-${fmt(Math.max(...ratios), 2)})` : '');

function baselineTable(baseline) {
  const lines = [
    '| target | req/s current | req/s baseline | current/baseline | CPU µs/request current | CPU µs/request baseline | current/baseline | paired rounds (req/s ratio range) | no worse than baseline |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const c of baseline.comparisons) {
    const result = c.pass === null ? 'not measured' : c.pass ? 'PASS' : 'FAIL';
    lines.push(
      `| ${c.label} | ${fmt(c.current.reqPerSec)} | ${fmt(c.baseline.reqPerSec)} | ${fmt(c.reqPerSecRatio, 2)} | ${fmt(c.current.cpuUsPerRequest)} | ${fmt(c.baseline.cpuUsPerRequest)} | ${fmt(c.cpuRatio, 2)} | ${c.reqPerSecRatios.length}${range(c.reqPerSecRatios)} | ${result} |`,
    );
  }
  const { minReqPerSecRatio, maxCpuRatio } = baseline.tolerance;
  lines.push(
    '',
    `Ratios are current/baseline per round (the two cells ran back to back, in alternating order), then the median over the rounds. A target passes at req/s >= ${minReqPerSecRatio}x and CPU µs/request <= ${maxCpuRatio}x: 5% is the noise band of paired rounds (docs/benchmarks.md).`,
  );
  return lines;
}

function referenceTable(references) {
  const lines = ['| reference ratio | measured | old floor | |', '|---|---:|---:|---|'];
  for (const r of references) {
    const side = r.pass === null ? 'not measured' : r.pass ? 'at or above' : 'below';
    lines.push(`| ${r.what} | ${fmt(r.value, 2)}x | ${fmt(r.floor, 1)}x | ${side} |`);
  }
  return lines;
}

function profileTable(profiles) {
  const lines = ['| row (metrics on) | busy CPU ms profiled | in metrics code, ms | share | req/s of the profiled cell |', '|---|---:|---:|---:|---:|'];
  for (const p of Object.values(profiles)) {
    lines.push(`| ${p.label} | ${fmt(p.busyMs)} | ${fmt(p.metricsMs, 1)} | ${fmt(100 * p.share, 2)}% | ${fmt(p.reqPerSec)}${p.valid ? '' : ' (INVALID)'} |`);
  }
  lines.push(
    '',
    "A sample is metrics work when metrics code is on its stack (src/metrics, prom-client, platform/observe.js), or when the nearest of our own functions on it is one that only times something for the metrics (the statement timer in db/connect.js, the answer's `done` in platform/fast-path.js). The profiler's own cost lowers these cells' req/s; they count in no other figure.",
  );
  return lines;
}

function markdown(results) {
  const { meta, options, peak, latency, checks, references, goals, baseline, profiles = {} } = results;
  const lines = [
    `Run ${meta.startedAt} on commit ${meta.commit}: \`npm run bench${meta.args.length ? ' -- ' + meta.args.join(' ') : ''}\`.`,
    `${meta.cpus} x ${meta.cpuModel}, Node ${meta.node}, ${options.engines.join(' and ')}; load average ${meta.loadBefore} before, ${meta.loadAfter} after.`,
    `Server on core ${options.serverCpu}, load generator on core ${options.generatorCpu}; one server alive at a time; ${options.rounds} alternating round(s) of ${options.duration} s after ${options.warmup} s of warm-up per cell; ${options.connections} connections; medians of the valid cells.`,
    ...(baseline
      ? [
          `Baseline: ${baseline.label} (\`--baseline ${baseline.spec}\`${baseline.temporary ? ', built in a temporary git worktree' : ''}), measured in the same rounds, each target back to back with the current build's.`,
        ]
      : []),
    '',
    '### Peak throughput',
    '',
    ...peakTable(peak),
  ];
  if (baseline) lines.push('', `### Current vs baseline ${baseline.label}`, '', ...baselineTable(baseline));
  if (latency.length) lines.push('', "### Latency at a constant offered rate (half of each target's peak)", '', ...latencyTable(latency));
  if (Object.keys(profiles).length) lines.push('', '### What the metrics cost inside the server (one profiled cell per row)', '', ...profileTable(profiles));
  lines.push('', '### Checks', '', ...verdictTable('check', checks, ['PASS', 'FAIL']));
  if (references.length) {
    lines.push('', "### Reference ratios (informational: the old method's floors, never a failure of the run)", '', ...referenceTable(references));
  }
  if (goals.length)
    lines.push('', '### Goals (issue 15, for the lean path: shown, not failures of this run)', '', ...verdictTable('goal', goals, ['met', 'not yet']));
  lines.push('', '### Every round (req/s, server CPU per request)', '', ...roundsList(peak, baseline ? baseline.comparisons : []));
  return lines.join('\n') + '\n';
}

/** Writes latest.json and latest.md under bench/results/ (gitignored); returns the JSON file's path. */
function saveResults(results, text) {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, 'latest.json');
  fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  fs.writeFileSync(path.join(RESULTS_DIR, 'latest.md'), text);
  return file;
}

module.exports = { markdown, saveResults };
