// Processes pinned to one core with taskset(1) (util-linux): servers, which the runner starts and
// stops, and generator runs, which take a JSON job on stdin and answer with one JSON line.
'use strict';
const net = require('node:net');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');

const STOP_TIMEOUT_MS = 15_000;
const READY_TIMEOUT_MS = 30_000;

/** Fails with a clear message when processes cannot be pinned to the two cores asked for. */
function assertPinning(cpus) {
  const probe = spawnSync('taskset', ['-c', cpus.join(','), 'true']);
  if (probe.error?.code === 'ENOENT') throw new Error('taskset was not found: install util-linux (Debian: apt-get install util-linux)');
  if (probe.status !== 0) throw new Error(`taskset cannot pin to cores ${cpus.join(' and ')}: ${String(probe.stderr).trim()}`);
}

/** Moves this process (all its threads) to `cpu`, so that the runner's own work stays off the server's core. */
function pinSelf(cpu) {
  const result = spawnSync('taskset', ['-a', '-c', '-p', String(cpu), String(process.pid)]);
  if (result.status !== 0) throw new Error(`taskset could not pin the runner to core ${cpu}: ${String(result.stderr).trim()}`);
}

/** taskset execs the command, so the child's pid is node's own: the one /proc is read for. */
function spawnPinned(cpu, args, options) {
  return spawn('taskset', ['-c', String(cpu), process.execPath, ...args], options);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function accepts(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitUntilListening(port, child, what) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before it listened`);
    if (await accepts(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${what} did not listen on port ${port} within ${READY_TIMEOUT_MS / 1000} s`);
}

function exited(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', resolve));
}

/**
 * Starts `server` ({ script, env(port), nodeArgs? }) on `cpu` and resolves once its port accepts connections.
 * Its output goes to the runner's stderr, away from the report on stdout.
 */
async function startServer(server, cpu) {
  const port = await freePort();
  const env = { PATH: process.env.PATH, NODE_ENV: 'production', ...(server.env ? server.env(port) : {}) };
  const child = spawnPinned(cpu, [...(server.nodeArgs ?? []), server.script, String(port)], { env, stdio: ['ignore', 2, 2] });
  const what = path.basename(server.script);
  try {
    await waitUntilListening(port, child, what);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    pid: child.pid,
    base: `http://127.0.0.1:${port}`,
    /** Throws when the server is gone (it crashed, or was killed, during the cell). */
    assertRunning() {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) during the measurement`);
    },
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited(child);
      clearTimeout(timer);
    },
  };
}

/** Runs bench/generator/<name>.js on `cpu` with `job`, and resolves with the JSON it answers. */
function runGenerator(name, job, cpu) {
  // A larger young generation: fewer scavenges in the generator, so less of its own noise in the figures.
  const args = ['--max-semi-space-size=32', path.join(__dirname, '..', 'generator', `${name}.js`)];
  const child = spawnPinned(cpu, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stdin.end(JSON.stringify(job));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`generator ${name} exited with ${code}`));
      try {
        resolve(JSON.parse(output.trim().split('\n').pop()));
      } catch {
        reject(new Error(`generator ${name} answered no JSON: ${output.slice(0, 200)}`));
      }
    });
  });
}

module.exports = { assertPinning, pinSelf, startServer, runGenerator };
