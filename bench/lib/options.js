// Command-line options of `npm run bench -- [options]`.
'use strict';
const { ALL_IDS } = require('./targets');

const USAGE = `usage: npm run bench -- [options]
  --quick              development run: 1 round of 2 s after 1 s of warm-up (figures are rough)
  --only a,b,...       measure only these (${ALL_IDS.join(', ')});
                       checks whose inputs were not measured are shown as not measured
  --rounds N           alternating rounds (default 5)
  --duration S         measured seconds per cell (default 8)
  --warmup S           warm-up seconds per cell, not measured (default 2)
  --connections N      closed-loop connections for peak req/s (default 10)
  --large N            other credentials seeded in the large table (default 100000)
  --no-latency         skip the constant-rate latency phase
  --no-profile         skip the profiled cells (one per "metrics on" row: metrics code's share of the CPU)
  --baseline REV|DIR   also measure this build of the console (a git revision, built in a temporary
                       worktree, or a directory holding a built checkout) in the same rounds, each
                       target back to back with the current build's; fails the run when a target
                       is worse than the baseline (median paired ratio: req/s below 0.95x or
                       CPU µs/request above 1.05x)
  --engine E[,E]       database of the console: sqlite (default; its file), postgres (a throwaway
                       PostgreSQL cluster pinned to the server's core), or sqlite,postgres for both
                       side by side in one run (PostgreSQL rows are named like me-basic@postgres)
  --server-cpu N       core for the server (default 0); --generator-cpu N for the load (default 1)`;

const DEFAULTS = {
  rounds: 5,
  duration: 8,
  warmup: 2,
  connections: 10,
  large: 100_000,
  latency: true,
  profile: true,
  engines: ['sqlite'],
  serverCpu: 0,
  generatorCpu: 1,
  quick: false,
  only: undefined,
  baseline: undefined,
};
const QUICK = { rounds: 1, duration: 2, warmup: 1 };
const NUMERIC = {
  '--rounds': 'rounds',
  '--duration': 'duration',
  '--warmup': 'warmup',
  '--connections': 'connections',
  '--large': 'large',
  '--server-cpu': 'serverCpu',
  '--generator-cpu': 'generatorCpu',
};
const ENGINES = ['sqlite', 'postgres'];

class UsageError extends Error {}

function numberOption(flag, text) {
  const value = Number(text);
  if (text === undefined || !Number.isFinite(value) || value < 0) throw new UsageError(`${flag} needs a number (got ${JSON.stringify(text ?? '')})`);
  return value;
}

function parseOnly(text) {
  const ids = (text || '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = ids.filter((id) => !ALL_IDS.includes(id));
  if (ids.length === 0 || unknown.length)
    throw new UsageError(`--only takes a comma-separated list of ${ALL_IDS.join(', ')} (unknown: ${unknown.join(', ') || 'none given'})`);
  return ids;
}

function parseEngines(text) {
  const engines = [...new Set((text ?? '').split(',').map((s) => s.trim()))].filter(Boolean);
  if (engines.length === 0 || engines.some((e) => !ENGINES.includes(e))) {
    throw new UsageError(`--engine ${text ?? ''}: takes sqlite, postgres or sqlite,postgres`);
  }
  return engines;
}

function parseBaseline(text) {
  if (!text || text.startsWith('--')) throw new UsageError('--baseline needs a git revision (e.g. 03b5e51) or the directory of a built checkout');
  return text;
}

/** Parses argv (without node and the script); throws UsageError with a message meant for the user. */
function parseOptions(argv) {
  const given = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--help' || flag === '-h') throw new UsageError('');
    else if (flag === '--quick') given.quick = true;
    else if (flag === '--no-latency') given.latency = false;
    else if (flag === '--no-profile') given.profile = false;
    else if (flag === '--only') given.only = parseOnly(argv[++i]);
    else if (flag === '--engine') given.engines = parseEngines(argv[++i]);
    else if (flag === '--baseline') given.baseline = parseBaseline(argv[++i]);
    else if (NUMERIC[flag]) given[NUMERIC[flag]] = numberOption(flag, argv[++i]);
    else throw new UsageError(`unknown option ${flag}`);
  }
  const options = { ...DEFAULTS, ...(given.quick ? QUICK : {}), ...given };
  if (options.rounds < 1 || !Number.isInteger(options.rounds)) throw new UsageError('--rounds must be a whole number of at least 1');
  if (options.duration <= 0) throw new UsageError('--duration must be more than 0 seconds');
  if (options.serverCpu === options.generatorCpu) throw new UsageError('the server and the generator need two different cores');
  return options;
}

module.exports = { parseOptions, UsageError, USAGE };
