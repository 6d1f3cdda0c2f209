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

const ROUNDS = Number(process.env.BENCH_ROUNDS || 5);
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

async function load(target) {
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
  return result.requests.average;
}

const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function scenario(extra, withPeer) {
  const port = await freePort();
  const consoleServer = await startChild('console-server.js', [String(extra), String(port)]);
  const c = consoleServer.info;
  const base = `http://127.0.0.1:${port}`;
  const tokenRes = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { Authorization: basic(c.clientId, c.clientSecret), 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  if (!tokenRes.ok) throw new Error(`token request failed: ${tokenRes.status} ${await tokenRes.text()}`);
  const { access_token: accessToken } = await tokenRes.json();
  const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
  const targets = [
    { name: 'no-op Express route', url: `${base}/bench/noop` },
    { name: 'GET /api/v1/me (Basic)', url: `${base}/api/v1/me`, headers: { Authorization: basic(c.username, c.apiKey) } },
    { name: 'GET /api/v1/me (Bearer)', url: `${base}/api/v1/me`, headers: { Authorization: `Bearer ${accessToken}` } },
    { name: 'GET /auth/verify (Bearer)', url: `${base}/auth/verify?scope=claims:read`, headers: { Authorization: `Bearer ${accessToken}` } },
    { name: 'POST /oauth/token', url: `${base}/oauth/token`, method: 'POST', headers: { ...form, Authorization: basic(c.clientId, c.clientSecret) }, body: 'grant_type=client_credentials' },
  ];
  let peer;
  if (withPeer) {
    const peerPort = await freePort();
    peer = await startChild('oidc-provider-server.js', [String(peerPort)]);
    targets.push({
      name: 'oidc-provider 9 token endpoint',
      url: `http://127.0.0.1:${peerPort}/token`,
      method: 'POST',
      headers: { ...form, Authorization: basic(peer.info.clientId, peer.info.clientSecret) },
      body: 'grant_type=client_credentials&scope=claims%3Aread',
    });
  }
  for (const t of targets) {
    t.rounds = [];
    await autocannon({ url: t.url, method: t.method || 'GET', headers: t.headers, body: t.body, connections: CONNECTIONS, duration: 1 }); // warm-up
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of targets) t.rounds.push(await load(t));
    process.stderr.write(`  ${extra} credentials: round ${round + 1}/${ROUNDS} done\n`);
  }
  const rss = peakRssMb(consoleServer.child.pid);
  consoleServer.child.kill('SIGTERM');
  peer?.child.kill('SIGTERM');
  const results = Object.fromEntries(targets.map((t) => [t.name, { median: median(t.rounds), rounds: t.rounds }]));
  return { extra, credentialCount: c.credentialCount, results, rss };
}

function fmt(n, digits = 0) {
  return Number(n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

(async () => {
  const started = new Date();
  process.stderr.write(`bench: ${ROUNDS} rounds x ${DURATION}s, ${CONNECTIONS} connections\n`);
  const small = await scenario(100, true);
  const large = await scenario(LARGE, false);
  const noopSmall = small.results['no-op Express route'].median;
  const noopLarge = large.results['no-op Express route'].median;
  const peer = small.results['oidc-provider 9 token endpoint'].median;
  const checks = [];
  const rows = [];
  for (const name of Object.keys(small.results)) {
    const s = small.results[name].median;
    const l = large.results[name]?.median;
    const ratio = s / noopSmall;
    const ratioLarge = l === undefined ? undefined : l / noopLarge;
    rows.push({ name, s, ratio, l, ratioLarge, rounds: small.results[name].rounds });
  }
  const need = { 'GET /api/v1/me (Basic)': 0.5, 'GET /api/v1/me (Bearer)': 0.5, 'GET /auth/verify (Bearer)': 0.5, 'POST /oauth/token': 0.4 };
  for (const [name, min] of Object.entries(need)) {
    const row = rows.find((r) => r.name === name);
    checks.push({ what: `${name} >= ${min}x no-op (100 credentials)`, value: row.ratio, pass: row.ratio >= min });
    // Within 10% with 100,000 credentials: compared as ratios to the no-op route of the same run, so
    // the machine's drift between the two scenarios cancels out.
    const drop = row.ratioLarge / row.ratio;
    checks.push({ what: `${name} with ${fmt(large.credentialCount)} credentials within 10% of 100`, value: drop, pass: drop >= 0.9 });
  }
  const tokenVsPeer = small.results['POST /oauth/token'].median / peer;
  checks.push({ what: 'POST /oauth/token >= 1.0x oidc-provider 9', value: tokenVsPeer, pass: tokenVsPeer >= 1.0 });
  checks.push({ what: `peak RSS <= 200 MB with ${fmt(large.credentialCount)} credentials`, value: large.rss, pass: large.rss <= 200, unit: 'MB' });

  const lines = [];
  lines.push('# Benchmarks', '');
  lines.push(`Run ${started.toISOString()} by \`npm run bench\` on ${os.cpus().length} x ${os.cpus()[0].model}, Node ${process.version}.`);
  lines.push(`Loopback, autocannon ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${DURATION} s per target; medians of requests/second.`);
  lines.push('Ratios compare against a no-op Express 5 route served by the same process, measured in the same run.', '');
  lines.push(`| target | req/s (100 credentials) | x no-op | req/s (${fmt(large.credentialCount)} credentials) | x no-op |`);
  lines.push('|---|---:|---:|---:|---:|');
  for (const r of rows) {
    lines.push(`| ${r.name} | ${fmt(r.s)} | ${fmt(r.ratio, 2)} | ${r.l === undefined ? '-' : fmt(r.l)} | ${r.ratioLarge === undefined ? '-' : fmt(r.ratioLarge, 2)} |`);
  }
  lines.push('', '| check | measured | result |', '|---|---:|---|');
  for (const c of checks) lines.push(`| ${c.what} | ${fmt(c.value, 2)}${c.unit ? ' ' + c.unit : 'x'} | ${c.pass ? 'pass' : 'FAIL'} |`);
  lines.push('', `Peak RSS of the console process: ${fmt(small.rss, 1)} MB with 100 credentials, ${fmt(large.rss, 1)} MB with ${fmt(large.credentialCount)}.`);
  lines.push('', 'Rounds (req/s, 100 credentials):', '');
  for (const r of rows) lines.push(`- ${r.name}: ${r.rounds.map((v) => fmt(v)).join(', ')}`);
  const text = lines.join('\n') + '\n';
  fs.writeFileSync(path.join(__dirname, '..', 'docs', 'benchmarks.md'), text);
  process.stdout.write(text);
  process.exit(checks.every((c) => c.pass) ? 0 : 1);
})().catch((err) => {
  process.stderr.write(`bench failed: ${err.stack || err}\n`);
  process.exit(2);
});
