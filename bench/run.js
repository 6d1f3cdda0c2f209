// `npm run bench`: loopback load on the platform API with autocannon, one run, ratios against a
// no-op Express route in the same server process, and against oidc-provider 9's token endpoint.
// Rounds alternate targets (A B C ... A B C ...) so drift on a shared machine hits all alike; medians
// are compared. Results are printed and written to docs/benchmarks.md.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const net = require('node:net');
const { spawn } = require('node:child_process');
const autocannon = require('autocannon');

const ROUNDS = Number(process.env.BENCH_ROUNDS || 9);
const DURATION = Number(process.env.BENCH_DURATION || 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS || 16);
const LARGE = Number(process.env.BENCH_LARGE || 100_000);

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function startChild(script, args) {
  const child = spawn(process.execPath, [path.join(__dirname, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const info = await new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      const line = buffer.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line));
    });
    child.on('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready`)));
  });
  return { child, info };
}

function peakRssMb(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) / 1024 : NaN;
}

const basic = (user, pass) => 'Basic ' + Buffer.from(`${encodeURIComponent(user)}:${encodeURIComponent(pass)}`).toString('base64');

/** CPU time (user + system) the process has used so far, in ms (from /proc; 10 ms resolution). */
function cpuMs(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

async function load(target) {
  const cpuBefore = cpuMs(target.pid);
  const result = await autocannon({
    url: target.url,
    method: target.method || 'GET',
    headers: target.headers,
    body: target.body,
    connections: CONNECTIONS,
    duration: DURATION,
  });
  const ok = result['2xx'];
  const bad = result.non2xx + result.errors + result.timeouts;
  if (ok === 0 || bad > 0) throw new Error(`${target.name}: ${ok} ok, ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
  // Server CPU per request: far less sensitive than req/s to what else the shared machine is doing.
  target.cpuUs.push(((cpuMs(target.pid) - cpuBefore) * 1000) / ok);
  return result.requests.average;
}

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Seeds a database with `extra` other credentials, serves it, and returns its targets. */
async function consoleServer(label, extra) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-bench-'));
  const seeded = await startChild('console-server.js', ['seed', String(extra), dataDir]);
  const c = seeded.info;
  const port = await freePort();
  const server = await startChild('console-server.js', ['serve', dataDir, String(port)]);
  const base = `http://127.0.0.1:${port}`;
  const tokenRes = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { Authorization: basic(c.clientId, c.clientSecret), 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  if (!tokenRes.ok) throw new Error(`token request failed: ${tokenRes.status} ${await tokenRes.text()}`);
  const { access_token: accessToken } = await tokenRes.json();
  const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
  return {
    label,
    dataDir,
    credentialCount: c.credentialCount,
    child: server.child,
    targets: [
      { name: 'no-op Express route', url: `${base}/bench/noop` },
      { name: 'GET /api/v1/me (Basic)', url: `${base}/api/v1/me`, headers: { Authorization: basic(c.username, c.apiKey) } },
      { name: 'GET /api/v1/me (Bearer)', url: `${base}/api/v1/me`, headers: { Authorization: `Bearer ${accessToken}` } },
      { name: 'GET /auth/verify (Bearer)', url: `${base}/auth/verify?scope=claims:read`, headers: { Authorization: `Bearer ${accessToken}` } },
      { name: 'POST /oauth/token', url: `${base}/oauth/token`, method: 'POST', headers: { ...form, Authorization: basic(c.clientId, c.clientSecret) }, body: 'grant_type=client_credentials' },
    ],
  };
}

async function peerServer() {
  const port = await freePort();
  const peer = await startChild('oidc-provider-server.js', [String(port)]);
  return {
    child: peer.child,
    target: {
      name: 'oidc-provider 9 token endpoint',
      url: `http://127.0.0.1:${port}/token`,
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic(peer.info.clientId, peer.info.clientSecret) },
      body: 'grant_type=client_credentials&scope=claims%3Aread',
    },
  };
}

function fmt(n, digits = 0) {
  return Number(n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

(async () => {
  const started = new Date();
  process.stderr.write(`bench: ${ROUNDS} rounds x ${DURATION}s, ${CONNECTIONS} connections\n`);
  const small = await consoleServer('small', 100);
  const large = await consoleServer('large', LARGE);
  const peer = await peerServer();
  // Every target on both servers, and the peer, in alternating rounds: A(small) A(large) B(small) ...
  const schedule = [];
  small.targets.forEach((t, i) => schedule.push(t, large.targets[i]));
  schedule.push(peer.target);
  for (const t of small.targets) t.pid = small.child.pid;
  for (const t of large.targets) t.pid = large.child.pid;
  peer.target.pid = peer.child.pid;
  for (const t of schedule) {
    t.rounds = [];
    t.cpuUs = [];
    await autocannon({ url: t.url, method: t.method || 'GET', headers: t.headers, body: t.body, connections: CONNECTIONS, duration: 1 }); // warm-up
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of schedule) t.rounds.push(await load(t));
    process.stderr.write(`  round ${round + 1}/${ROUNDS} done\n`);
  }
  const rssSmall = peakRssMb(small.child.pid);
  const rssLarge = peakRssMb(large.child.pid);
  for (const s of [small, large]) {
    s.child.kill('SIGTERM');
    for (const t of s.targets) {
      t.median = median(t.rounds);
      t.cpu = median(t.cpuUs);
    }
  }
  peer.child.kill('SIGTERM');
  peer.target.median = median(peer.target.rounds);
  peer.target.cpu = median(peer.target.cpuUs);

  const noopSmall = small.targets[0].median;
  const noopLarge = large.targets[0].median;
  const rows = small.targets.map((t, i) => {
    const l = large.targets[i];
    return { name: t.name, s: t.median, ratio: t.median / noopSmall, l: l.median, ratioLarge: l.median / noopLarge, rounds: t.rounds, roundsLarge: l.rounds, cpu: t.cpu, cpuLarge: l.cpu, cpuRounds: t.cpuUs, cpuRoundsLarge: l.cpuUs };
  });
  rows.push({ name: peer.target.name, s: peer.target.median, ratio: peer.target.median / noopSmall, rounds: peer.target.rounds, cpu: peer.target.cpu });
  const checks = [];
  const need = { 'GET /api/v1/me (Basic)': 0.5, 'GET /api/v1/me (Bearer)': 0.5, 'GET /auth/verify (Bearer)': 0.5, 'POST /oauth/token': 0.4 };
  for (const [name, min] of Object.entries(need)) {
    const row = rows.find((r) => r.name === name);
    checks.push({ what: `${name} >= ${min}x no-op`, value: row.ratio, pass: row.ratio >= min });
    // Each round measures the target on the small table and right after on the large one, so the
    // machine's drift hits both alike: the median of those paired ratios is the comparison.
    const keep = median(row.rounds.map((v, r) => row.roundsLarge[r] / v));
    checks.push({ what: `${name}: req/s with ${fmt(large.credentialCount)} credentials within 10% of ${fmt(small.credentialCount)}`, value: keep, pass: keep >= 0.9 });
    // The same question asked of the server's CPU time per request (paired the same way; 1.00 = same cost).
    const cpuKeep = median(row.cpuRounds.map((v, r) => v / row.cpuRoundsLarge[r]));
    checks.push({ what: `${name}: CPU per request with ${fmt(large.credentialCount)} credentials within 10% of ${fmt(small.credentialCount)}`, value: cpuKeep, pass: cpuKeep >= 0.9 });
  }
  const tokenVsPeer = rows.find((r) => r.name === 'POST /oauth/token').s / peer.target.median;
  checks.push({ what: 'POST /oauth/token >= 1.0x oidc-provider 9 token endpoint', value: tokenVsPeer, pass: tokenVsPeer >= 1.0 });
  checks.push({ what: `peak RSS of the server with ${fmt(large.credentialCount)} credentials <= 200 MB`, value: rssLarge, pass: rssLarge <= 200, unit: ' MB' });

  const lines = [];
  lines.push('# Benchmarks', '');
  lines.push(`Run ${started.toISOString()} by \`npm run bench\` on ${os.cpus().length} x ${os.cpus()[0].model}, Node ${process.version}, one run.`);
  lines.push(`Loopback; autocannon in the parent process, ${CONNECTIONS} connections; ${ROUNDS} alternating rounds of ${DURATION} s per target`);
  lines.push(`(every target on the ${fmt(small.credentialCount)}-credential server, then on the ${fmt(large.credentialCount)}-credential server, then oidc-provider, round after round); medians of requests/second.`);
  lines.push('The no-op route is a plain Express 5 route served by the same process as the console, in front of it.');
  lines.push('Server CPU µs/request is the console process\'s user+system CPU time (from /proc) during a round divided by the requests it answered.');
  lines.push('"Within 10%" compares, round by round, a target on the large table with the same target on the small table measured just before it (median of the paired ratios).', '');
  lines.push(`| target | req/s, ${fmt(small.credentialCount)} credentials | x no-op | server CPU µs/request | req/s, ${fmt(large.credentialCount)} credentials | x no-op | server CPU µs/request |`);
  lines.push('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const dash = (v, d = 0) => (v === undefined ? '-' : fmt(v, d));
    lines.push(`| ${r.name} | ${fmt(r.s)} | ${fmt(r.ratio, 2)} | ${fmt(r.cpu)} | ${dash(r.l)} | ${dash(r.ratioLarge, 2)} | ${dash(r.cpuLarge)} |`);
  }
  lines.push('', '| check | measured | result |', '|---|---:|---|');
  for (const c of checks) lines.push(`| ${c.what} | ${fmt(c.value, 2)}${c.unit || 'x'} | ${c.pass ? 'pass' : 'FAIL'} |`);
  lines.push('', `Peak RSS (VmHWM) of the console process: ${fmt(rssSmall, 1)} MB with ${fmt(small.credentialCount)} credentials, ${fmt(rssLarge, 1)} MB with ${fmt(large.credentialCount)}.`);
  lines.push('', 'On a shared virtual machine single rounds spread by about ±25% (below): read the medians, and run again before trusting a check that sits near its limit.');
  lines.push('', 'Every round (req/s):', '');
  for (const r of rows) {
    lines.push(`- ${r.name}: ${r.rounds.map((v) => fmt(v)).join(', ')}${r.roundsLarge ? ` | with ${fmt(large.credentialCount)}: ${r.roundsLarge.map((v) => fmt(v)).join(', ')}` : ''}`);
  }
  const text = lines.join('\n') + '\n';
  fs.writeFileSync(path.join(__dirname, '..', 'docs', 'benchmarks.md'), text);
  process.stdout.write(text);
  for (const s of [small, large]) fs.rmSync(s.dataDir, { recursive: true, force: true });
  process.exit(checks.every((c) => c.pass) ? 0 : 1);
})().catch((err) => {
  process.stderr.write(`bench failed: ${err.stack || err}\n`);
  process.exit(2);
});
