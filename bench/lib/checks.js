// Pass/fail checks and goals, computed against references measured in the same run. Checks decide
// the exit code; goals (issue 15's targets for the lean path) are shown but do not fail the run.
'use strict';
const { median } = require('./stats');

const VERIFY_ENDPOINTS = ['me-basic', 'me-bearer', 'verify'];
const PLATFORM_TARGETS = [...VERIFY_ENDPOINTS, 'token'];
/** The floors docs/benchmarks.md has held since the first benchmark, against the Express no-op. */
const FLOOR_VS_NOOP = { 'me-basic': 0.5, 'me-bearer': 0.5, verify: 0.5, token: 0.4 };
const RSS_LIMIT_MB = 200;

const fmtCount = (n) => Number(n).toLocaleString('en-US');
const known = (v) => typeof v === 'number' && Number.isFinite(v);

/** pass: true / false, or null when an input was not measured (then it neither passes nor fails). */
function atLeast(what, value, min, unit = 'x') {
  return { what, value, unit, pass: known(value) ? value >= min : null };
}

function atMost(what, value, max, unit) {
  return { what, value, unit, pass: known(value) ? value <= max : null };
}

function ratio(peak, id, referenceId) {
  if (!peak[id] || !peak[referenceId]) return NaN;
  return peak[id].summary.reqPerSec / peak[referenceId].summary.reqPerSec;
}

/** Median over rounds of large/small, each pair measured back to back in one round. */
function pairedRatio(small, large, pick) {
  const pairs = small.cells.map((cell, round) => [cell, large.cells[round]]).filter(([s, l]) => s.valid && l?.valid);
  return median(pairs.map(([s, l]) => pick(s, l)));
}

function validityCheck(peak, latency) {
  const rows = [...Object.values(peak), ...latency.flatMap((l) => [l.target, l.noop])];
  const invalid = rows.reduce((n, row) => n + row.summary.invalidCells, 0);
  const cells = rows.reduce((n, row) => n + row.cells.length, 0);
  return { what: `every cell answered at least 99% of its requests with 2xx (${fmtCount(cells)} cells)`, value: invalid, unit: ' INVALID cells', pass: invalid === 0 };
}

function tableSizeChecks(peak, id) {
  const small = peak[id];
  const large = peak[`${id}@large`];
  if (!small || !large) return [];
  const sizes = `with ${fmtCount(large.credentialCount)} credentials within 10% of ${fmtCount(small.credentialCount)}`;
  return [
    atLeast(`${small.label}: req/s ${sizes}`, pairedRatio(small, large, (s, l) => l.reqPerSec / s.reqPerSec), 0.9),
    // 1.00 = the same cost; below 0.90 the large table costs more than 10% more CPU per request.
    atLeast(`${small.label}: CPU per request ${sizes}`, pairedRatio(small, large, (s, l) => s.cpuUsPerRequest / l.cpuUsPerRequest), 0.9),
  ];
}

function buildChecks(peak, latency) {
  const checks = [validityCheck(peak, latency)];
  for (const id of PLATFORM_TARGETS.filter((t) => peak[t])) {
    checks.push(atLeast(`${peak[id].label} >= ${FLOOR_VS_NOOP[id]}x Express no-op req/s`, ratio(peak, id, 'express-noop'), FLOOR_VS_NOOP[id]));
    checks.push(...tableSizeChecks(peak, id));
  }
  if (peak.token) checks.push(atLeast(`${peak.token.label} >= 1.0x oidc-provider req/s`, ratio(peak, 'token', 'oidc-token'), 1.0));
  const large = Object.values(peak).filter((row) => row.size === 'large');
  if (large.length) {
    const rss = Math.max(...large.map((row) => row.summary.peakRssMb));
    checks.push(atMost(`peak RSS of the server with ${fmtCount(large[0].credentialCount)} credentials <= ${RSS_LIMIT_MB} MB`, rss, RSS_LIMIT_MB, ' MB'));
  }
  return checks;
}

/** Issue 15's targets for the lean path in front of Express. */
function buildGoals(peak, latency) {
  const goals = [];
  for (const id of VERIFY_ENDPOINTS.filter((t) => peak[t])) goals.push(atLeast(`${peak[id].label} >= 1.5x Express no-op req/s`, ratio(peak, id, 'express-noop'), 1.5));
  if (peak.token) {
    goals.push(atLeast(`${peak.token.label} >= 1.2x oidc-provider req/s`, ratio(peak, 'token', 'oidc-token'), 1.2));
    goals.push(atLeast(`${peak.token.label} >= 1.0x ideal token endpoint req/s`, ratio(peak, 'token', 'ideal-token'), 1.0));
  }
  for (const pair of latency.filter((l) => VERIFY_ENDPOINTS.includes(l.targetId))) {
    const value = pair.target.summary.p99 / pair.noop.summary.p99;
    goals.push(atMost(`${pair.label}: p99 <= 1.2x Express no-op's p99 at ${fmtCount(pair.rate)} req/s offered`, value, 1.2, 'x'));
  }
  return goals;
}

/** The run passes when no check failed; a check that could not be measured does not fail it, and goals never do. */
const runPassed = (checks) => checks.every((c) => c.pass !== false);

module.exports = { buildChecks, buildGoals, runPassed };
