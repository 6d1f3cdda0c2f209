#!/usr/bin/env node
// `npm test` runs this before Jest: it makes sure the programs the suites need from outside npm are
// installed, so a fresh Debian machine needs nothing but `npm ci && npm test`. When everything is there it
// only looks at a few files (no apt-get). When something is missing it installs it with apt-get (as root, or
// with passwordless sudo); otherwise it stops before any suite starts and prints the command to run.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

/**
 * What the suites need from outside npm, one line per Debian package. `programs`: where the package puts a
 * program the tests run (a bare name is looked up on PATH and in the sbin folders; a path may hold one `*`,
 * e.g. '/usr/lib/postgresql/*\/bin/postgres'). A suite that needs another server adds its line here.
 */
const TOOLS = [
  { package: 'chromium', programs: ['/usr/bin/chromium'], neededBy: 'the browser tests (tests/browser)' },
  { package: 'nginx', programs: ['nginx'], neededBy: 'the forward-auth test (tests/nginx-forward-auth.test.ts)' },
  {
    package: 'postgresql',
    programs: ['/usr/lib/postgresql/*/bin/postgres'],
    neededBy: 'the PostgreSQL run of the suite (TEST_ENGINE=postgres, tests/support/postgres.ts)',
  },
  // Debian's prometheus package ships promtool beside it.
  { package: 'prometheus', programs: ['prometheus'], neededBy: 'the metrics test against a real Prometheus (tests/metrics-prometheus.test.ts)' },
];

// Debian's switch that keeps package installs from starting services (answer 101: "action forbidden"): the
// nginx test runs its own nginx, and a system one would only take port 80.
const POLICY_RC_D = '/usr/sbin/policy-rc.d';
const FORBID_SERVICE_STARTS = `printf '#!/bin/sh\\nexit 101\\n' > ${POLICY_RC_D} && chmod 755 ${POLICY_RC_D}`;
const APT = ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get']; // env: sudo's env_reset would drop an exported variable

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Whether `program` (a bare name, or a path with at most one `*` segment) is an executable on this machine. */
function programExists(program, env = process.env) {
  if (!program.includes('/')) {
    const dirs = [...(env.PATH || '').split(path.delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'].filter(Boolean);
    return dirs.some((dir) => isExecutable(path.join(dir, program)));
  }
  const star = program.indexOf('*');
  if (star < 0) return isExecutable(program);
  const parent = path.dirname(program.slice(0, star + 1));
  const rest = program.slice(program.indexOf('/', star));
  let entries = [];
  try {
    entries = fs.readdirSync(parent);
  } catch {
    return false;
  }
  return entries.some((entry) => isExecutable(path.join(parent, entry) + rest));
}

/**
 * What to do, decided from the facts it is given (the tests inject them):
 * - `{ missing: [] }`: everything is installed, nothing to run;
 * - `{ missing, steps, cleanup }`: commands (argv arrays) to run in order, then `cleanup` whatever happened;
 * - `{ missing, error }`: this run cannot install them; `error` says what to run instead.
 * `canSudo` is a function so that it is only asked when something is missing; `hasSudo`: sudo is installed at
 * all (on a Debian machine without it, the command to print goes through `su -c` instead).
 */
function planProvisioning({ tools = TOOLS, has, isRoot, canSudo, hasSudo, hasAptGet, policyExists }) {
  const missing = tools.filter((tool) => !tool.programs.some((program) => has(program)));
  if (!missing.length) return { missing: [] };
  const packages = missing.map((tool) => tool.package);
  const needs = missing.map((tool) => `${tool.package} (for ${tool.neededBy})`).join(' and ');
  if (!hasAptGet) {
    return {
      missing: packages,
      error: `The tests need ${needs}, which is not installed, and this machine has no apt-get to install it. Install ${packages.join(' ')} with its package manager, then run npm test again.`,
    };
  }
  const sudo = isRoot ? [] : canSudo() ? ['sudo', '-n'] : null;
  if (!sudo) {
    const install = `apt-get update && apt-get install -y ${packages.join(' ')}`;
    return {
      missing: packages,
      error: [
        `The tests need ${needs}, which is not installed. This run cannot install it: it runs neither as root nor with passwordless sudo.`,
        'Install it, then run npm test again:',
        '',
        hasSudo ? `  sudo ${install.replace('&& apt-get', '&& sudo apt-get')}` : `  su -c '${install}'`,
      ].join('\n'),
    };
  }
  const steps = [];
  const cleanup = [];
  if (!policyExists) {
    steps.push([...sudo, 'sh', '-c', FORBID_SERVICE_STARTS]);
    cleanup.push([...sudo, 'rm', '-f', POLICY_RC_D]); // only the one this run put there
  }
  steps.push([...sudo, ...APT, 'update', '-q'], [...sudo, ...APT, 'install', '-y', '-q', ...packages]);
  return { missing: packages, steps, cleanup };
}

/** Runs one command with stdin from /dev/null; returns its exit status (127 when it could not start). */
function run(argv) {
  const result = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit'] });
  return result.error ? 127 : (result.status ?? 1);
}

function machineFacts() {
  return {
    has: (program) => programExists(program),
    isRoot: typeof process.getuid === 'function' && process.getuid() === 0,
    canSudo: () => spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0,
    hasSudo: programExists('sudo'),
    hasAptGet: programExists('apt-get'),
    policyExists: fs.existsSync(POLICY_RC_D),
  };
}

function main() {
  const plan = planProvisioning(machineFacts());
  if (!plan.missing.length) return 0;
  if (plan.error) {
    console.error(`\n${plan.error}\n`);
    return 1;
  }
  console.log(`test tools: installing ${plan.missing.join(' ')} with apt-get`);
  let failed = null;
  try {
    for (const step of plan.steps) {
      const status = run(step);
      if (status !== 0) {
        failed = `${step.join(' ')} failed (exit ${status})`;
        break;
      }
    }
  } finally {
    for (const step of plan.cleanup) run(step);
  }
  const stillMissing = planProvisioning({ ...machineFacts(), canSudo: () => true }).missing;
  if (failed || stillMissing.length) {
    console.error(`\ntest tools: ${failed ?? `still missing after apt-get install: ${stillMissing.join(' ')}`}. No test ran.\n`);
    return 1;
  }
  return 0;
}

if (require.main === module) process.exitCode = main();

module.exports = { TOOLS, planProvisioning, programExists };
