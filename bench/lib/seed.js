// Data directories for the console's targets, each seeded in a separate process
// (bench/servers/seed-console.js) by the build that will serve it.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { onCleanup } = require('./cleanup');

const ROOT = path.join(__dirname, '..', '..');
const SEED_SCRIPT = path.join('bench', 'servers', 'seed-console.js');

/**
 * How `checkoutDir` is seeded: with its own seed script when it has one (a baseline made with this
 * harness), else with this one through its dist/ modules (a baseline older than the script).
 * Either way its own schema, migrations and services store the credentials.
 */
function seedCommand(checkoutDir, others, dataDir) {
  const own = path.join(checkoutDir, SEED_SCRIPT);
  if (path.resolve(checkoutDir) !== path.resolve(ROOT) && fs.existsSync(own)) return [own, String(others), dataDir];
  return [path.join(ROOT, SEED_SCRIPT), String(others), dataDir, path.join(checkoutDir, 'dist')];
}

let databases = 0;

/**
 * Seeds a fresh data directory with `others` other credentials for the build in `checkoutDir`
 * (removed when the run ends). With `cluster` (engine postgres), the credentials go to a new database
 * of that cluster instead, and `databaseUrl` says which. Returns { size, engine, dataDir, databaseUrl,
 * checkoutDir, caller, credentialCount }.
 */
function seedDataSet({ size, others, checkoutDir = ROOT, baseline, engine = 'sqlite', cluster }) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `console-bench-${baseline ? 'baseline' : size}-`));
  onCleanup(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  let databaseUrl;
  if (engine === 'postgres') {
    const name = `bench_${size}_${++databases}`;
    cluster.psql(`CREATE DATABASE ${name}`);
    databaseUrl = cluster.url(name);
  }
  const env = databaseUrl ? { ...process.env, DATABASE_URL: databaseUrl } : process.env;
  const output = execFileSync(process.execPath, seedCommand(checkoutDir, others, dataDir), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env });
  const { credentialCount, ...caller } = JSON.parse(output.trim().split('\n').pop());
  return { size, engine, dataDir, databaseUrl, checkoutDir, baseline, caller, credentialCount };
}

module.exports = { seedDataSet, seedCommand };
