// Latency at a constant offered rate, free of coordinated omission. Request i is due at
// start + i / rate whatever happened before it; its latency runs from that due time to the end of
// its answer. When the server pauses, requests keep falling due, wait for a free connection and
// carry the wait in their latency, so a pause shows up in p99 and max instead of slowing the
// generator down (which is what a closed loop, or autocannon's bursty overallRate, would do).
//
// The loop spins on setImmediate: the generator owns its core, and a timer would round every due
// time to a millisecond. `sendLag` (actual send time minus due time) tells how well it kept up.
'use strict';
const http = require('node:http');
const { percentileOfSorted } = require('../lib/stats');
const { runGenerator } = require('./io');

/** How long to wait for the last answers after the last request was sent. */
const DRAIN_MS = 10_000;

function summarize(values) {
  const sorted = Float64Array.from(values.filter((v) => !Number.isNaN(v))).sort();
  return { p50: percentileOfSorted(sorted, 0.5), p99: percentileOfSorted(sorted, 0.99), max: sorted.length ? sorted[sorted.length - 1] : NaN };
}

/** Offers `rate` requests a second for `seconds`; resolves once every answer is in (or given up). */
function offer(job, agent, seconds) {
  const target = new URL(job.request.url);
  const options = {
    agent,
    host: target.hostname,
    port: target.port,
    path: target.pathname + target.search,
    method: job.request.method,
    headers: job.request.headers,
  };
  const count = Math.round(job.rate * seconds);
  const interval = 1000 / job.rate;
  const latencies = new Array(count).fill(NaN);
  const sendLags = new Array(count).fill(NaN);
  const tally = { ok: 0, non2xx: 0, errors: 0 };
  const start = performance.now() + 5;
  let next = 0;
  let settled = 0;
  return new Promise((resolve) => {
    let drainTimer;
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      clearTimeout(drainTimer);
      tally.errors += count - settled; // never answered within DRAIN_MS
      resolve({ count, ...tally, latency: summarize(latencies), sendLag: summarize(sendLags) });
    };
    const settle = () => {
      if (++settled === count) done();
    };
    const send = (i) => {
      const due = start + i * interval;
      sendLags[i] = performance.now() - due;
      const req = http.request(options, (res) => {
        if (res.statusCode >= 200 && res.statusCode < 300) tally.ok++;
        else tally.non2xx++;
        res.on('end', () => {
          latencies[i] = performance.now() - due;
          settle();
        });
        res.resume();
      });
      req.on('error', () => {
        tally.errors++;
        settle();
      });
      req.end(job.request.body);
    };
    const tick = () => {
      const now = performance.now();
      while (next < count && start + next * interval <= now) send(next++);
      if (next < count) setImmediate(tick);
      else drainTimer = setTimeout(done, DRAIN_MS);
    };
    tick();
  });
}

runGenerator(async (job) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.sockets });
  if (job.warmSeconds > 0) await offer(job, agent, job.warmSeconds);
  const result = await offer(job, agent, job.seconds);
  agent.destroy();
  return { rate: job.rate, seconds: job.seconds, ...result };
});
