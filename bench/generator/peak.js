// Peak throughput of one target: autocannon in a closed loop (each connection sends its next request
// when the answer to the last one is in), first to warm the server, then for the measured window.
// The server's CPU time is read from /proc at both edges of that window, so CPU per request covers
// exactly the requests counted.
'use strict';
const autocannon = require('autocannon');
const { cpuTicks } = require('../lib/proc');
const { runGenerator } = require('./io');

function load(job, seconds) {
  const { url, method, headers, body } = job.request;
  return autocannon({ url, method, headers, body, connections: job.connections, duration: seconds });
}

runGenerator(async (job) => {
  if (job.warmSeconds > 0) await load(job, job.warmSeconds);
  const ticksBefore = cpuTicks(job.serverPid);
  const startedAt = performance.now();
  const result = await load(job, job.seconds);
  const seconds = (performance.now() - startedAt) / 1000;
  const ticks = cpuTicks(job.serverPid) - ticksBefore;
  const ok = result['2xx'];
  return {
    seconds,
    ok,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    reqPerSec: ok / seconds,
    serverCpuSeconds: ticks / job.clockTicks,
  };
});
