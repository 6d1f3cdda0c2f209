// One cell = one server alive on its own core: start it, warm it, measure, stop it. Peak cells run
// the closed-loop generator; latency cells offer a constant rate with the open-loop generator.
'use strict';
const { startServer, runGenerator } = require('./pinned');
const { peakRssMb } = require('./proc');
const { median } = require('./stats');

/** A cell whose non-2xx answers and errors pass this share of its requests is INVALID. */
const INVALID_SHARE = 0.01;
/** Keep-alive connections the open-loop generator may open: enough that a pause queues, not stalls, the schedule. */
const LATENCY_SOCKETS = 64;

/** At least one 2xx, and at most INVALID_SHARE of the requests answered otherwise or not at all. */
function isValid({ ok, non2xx, errors }) {
  const total = ok + non2xx + errors;
  return ok > 0 && non2xx + errors <= INVALID_SHARE * total;
}

async function withServer(row, options, measure) {
  const server = await startServer(row.server, options.serverCpu);
  try {
    const request = await row.prepare(server.base);
    const result = await measure(server, request);
    server.assertRunning();
    return { ...result, valid: isValid(result), peakRssMb: peakRssMb(server.pid) };
  } finally {
    await server.stop();
  }
}

function measurePeak(row, options, clockTicks) {
  return withServer(row, options, async (server, request) => {
    const job = { request, connections: options.connections, warmSeconds: options.warmup, seconds: options.duration, serverPid: server.pid, clockTicks };
    const r = await runGenerator('peak', job, options.generatorCpu);
    const answered = r.ok + r.non2xx;
    return {
      reqPerSec: r.reqPerSec,
      cpuUsPerRequest: answered ? (r.serverCpuSeconds * 1e6) / answered : NaN,
      serverCoreBusy: r.serverCpuSeconds / r.seconds,
      ok: r.ok,
      non2xx: r.non2xx,
      errors: r.errors,
    };
  });
}

function measureLatency(row, rate, options) {
  return withServer(row, options, async (_server, request) => {
    const job = { request, rate, sockets: LATENCY_SOCKETS, warmSeconds: options.warmup, seconds: options.duration };
    const r = await runGenerator('open-loop', job, options.generatorCpu);
    return { rate, ...r.latency, sendLagP99: r.sendLag.p99, sendLagMax: r.sendLag.max, ok: r.ok, non2xx: r.non2xx, errors: r.errors };
  });
}

const medianOf = (cells, key) => median(cells.map((c) => c[key]));
const sumOf = (cells, key) => cells.reduce((sum, c) => sum + c[key], 0);
const maxOf = (cells, key) => (cells.length ? Math.max(...cells.map((c) => c[key])) : NaN);

/** Medians of `keys` over the valid cells; failure counts over all of them; plus what `more` adds. */
function summarize(cells, keys, more) {
  const valid = cells.filter((c) => c.valid);
  const summary = { non2xx: sumOf(cells, 'non2xx'), errors: sumOf(cells, 'errors'), invalidCells: cells.length - valid.length };
  for (const key of keys) summary[key] = medianOf(valid, key);
  return { ...summary, ...more(cells, valid) };
}

const summarizePeak = (cells) => summarize(cells, ['reqPerSec', 'cpuUsPerRequest', 'serverCoreBusy'], (all) => ({ peakRssMb: maxOf(all, 'peakRssMb') }));
const summarizeLatency = (cells) => summarize(cells, ['p50', 'p99', 'max', 'sendLagP99'], (_all, valid) => ({ worstMax: maxOf(valid, 'max') }));

/**
 * Runs `measure(item)` for every item, round after round, forward in odd rounds and backward in
 * even ones (A B C, C B A, ...), so that a machine drifting during the run weighs on all alike.
 * Returns each item's cells in round order.
 */
async function alternatingRounds(items, rounds, measure, progress) {
  const cells = items.map(() => []);
  for (let round = 0; round < rounds; round++) {
    const order = items.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    for (const i of order) {
      const cell = await measure(items[i]);
      cells[i][round] = cell;
      progress(round, items[i], cell);
    }
  }
  return cells;
}

module.exports = { isValid, measurePeak, measureLatency, summarizePeak, summarizeLatency, alternatingRounds, INVALID_SHARE };
