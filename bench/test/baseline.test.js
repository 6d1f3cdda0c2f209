// Tests of `--baseline`: the paired comparison and its check, where the baseline's cells fall in the
// rounds, how each build is seeded, and the temporary git worktree (made in a fake repository whose
// `npm run build` writes a dist/src/server.js, removed however the run ends).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawn } = require('node:child_process');
const { buildChecks, buildReferenceRatios, baselineComparisons, pairedRatios, medianPairedRatio, runPassed } = require('../lib/checks');
const { prepareBaseline, BaselineError } = require('../lib/baseline');
const { cleanupAll } = require('../lib/cleanup');
const { seedCommand } = require('../lib/seed');
const { planRows } = require('../lib/targets');
const { alternatingRounds } = require('../lib/measure');
const { median } = require('../lib/stats');
const { parseOptions, UsageError } = require('../lib/options');

const ROOT = path.join(__dirname, '..', '..');

const cell = (reqPerSec, cpuUsPerRequest, valid = true) => ({ reqPerSec, cpuUsPerRequest, valid });
function row(id, kind, cells) {
  const valid = cells.filter((c) => c.valid);
  const summary = {
    reqPerSec: median(valid.map((c) => c.reqPerSec)),
    cpuUsPerRequest: median(valid.map((c) => c.cpuUsPerRequest)),
    invalidCells: cells.length - valid.length,
    peakRssMb: 50,
  };
  return { id, label: id, kind, size: 'small', cells, summary };
}
/** Our token endpoint on the current build and on the baseline, one cell per round each. */
const tokenPair = (current, baseline) => ({ token: row('token', 'target', current), 'token@baseline': row('token@baseline', 'baseline', baseline) });
const baselineCheckOf = (peak) => buildChecks(peak, []).find((c) => /no worse than the baseline/.test(c.what));

test('the comparison is the median of the per-round ratios current/baseline, not the ratio of the medians', () => {
  const peak = tokenPair([cell(100, 200), cell(120, 150), cell(80, 250)], [cell(90, 210), cell(130, 140), cell(100, 200)]);
  const current = peak.token;
  const baseline = peak['token@baseline'];
  const ratios = pairedRatios(current, baseline, (c, b) => c.reqPerSec / b.reqPerSec);
  assert.deepEqual(
    ratios.map((r) => r.toFixed(3)),
    ['1.111', '0.923', '0.800'],
  );
  assert.equal(
    medianPairedRatio(current, baseline, (c, b) => c.reqPerSec / b.reqPerSec),
    ratios[1],
  );
  assert.equal(current.summary.reqPerSec / baseline.summary.reqPerSec, 1); // what the unpaired medians would say
  const [comparison] = baselineComparisons(peak);
  assert.equal(comparison.reqPerSecRatio.toFixed(3), '0.923');
  assert.deepEqual(
    comparison.cpuRatios.map((r) => r.toFixed(3)),
    ['0.952', '1.071', '1.250'],
  );
  assert.equal(comparison.cpuRatio.toFixed(3), '1.071');
});

test('rounds where either side is INVALID are left out of the pairs', () => {
  const peak = tokenPair([cell(100, 100), cell(50, 300, false), cell(100, 100)], [cell(100, 100), cell(100, 100), cell(200, 50, false)]);
  const [comparison] = baselineComparisons(peak);
  assert.deepEqual(comparison.reqPerSecRatios, [1]);
  assert.deepEqual(comparison.cpuRatios, [1]);
});

test('a target passes at 0.95x the baseline req/s and 1.05x its CPU µs/request, and fails the run just past either', () => {
  const at = (reqPerSecRatio, cpuRatio) => tokenPair([cell(1000 * reqPerSecRatio, 100 * cpuRatio)], [cell(1000, 100)]);
  assert.equal(baselineCheckOf(at(0.95, 1.05)).pass, true);
  assert.equal(runPassed(buildChecks(at(0.95, 1.05), [])), true);
  assert.equal(baselineCheckOf(at(0.94, 1.0)).pass, false);
  assert.equal(runPassed(buildChecks(at(0.94, 1.0), [])), false);
  assert.equal(baselineCheckOf(at(1.2, 1.06)).pass, false);
  assert.equal(runPassed(buildChecks(at(1.2, 1.06), [])), false);
  assert.equal(baselineCheckOf(at(0.94, 1.0)).shown, '0.94x req/s, 1.00x CPU');
});

test('without --baseline there is no baseline check', () => {
  const { token } = tokenPair([cell(1000, 100)], [cell(1000, 100)]);
  assert.equal(baselineCheckOf({ token }), undefined);
  assert.deepEqual(baselineComparisons({ token }), []);
});

test('reference ratios below the old floors are shown but do not fail the run', () => {
  const peak = {
    'express-noop': row('express-noop', 'reference', [cell(10_000, 86)]),
    'oidc-token': row('oidc-token', 'reference', [cell(5_000, 195)]),
    token: row('token', 'target', [cell(3_000, 300)]),
  };
  const references = buildReferenceRatios(peak);
  assert.deepEqual(
    references.map((r) => [r.what, r.value, r.floor, r.pass]),
    [
      ['token / Express no-op req/s', 0.3, 0.4, false],
      ['token / oidc-provider req/s', 0.6, 1.0, false],
    ],
  );
  assert.equal(
    buildChecks(peak, []).some((c) => /Express no-op|oidc-provider/.test(c.what)),
    false,
  );
  assert.equal(runPassed(buildChecks(peak, [])), true);
});

test("the baseline cell runs back to back with the current build's same target, first in odd rounds and second in even ones", async () => {
  const dataSet = (size, baseline) => ({ size, baseline, dataDir: '/nowhere', checkoutDir: baseline ? '/baseline' : ROOT, caller: {}, credentialCount: 102 });
  const rows = planRows(['token', 'verify'], [dataSet('small', 'abc1234'), dataSet('small'), dataSet('large')]);
  assert.equal(rows[0].server.script, path.join('/baseline', 'dist', 'src', 'server.js'));
  assert.equal(rows[1].server.script, path.join(ROOT, 'dist', 'src', 'server.js'));
  const order = [];
  await alternatingRounds(
    rows,
    2,
    async (r) => order.push(r.id),
    () => {},
  );
  assert.deepEqual(order, [
    ...['token@baseline', 'token', 'token+metrics', 'token@large', 'verify@baseline', 'verify', 'verify+metrics', 'verify@large'],
    ...['verify@large', 'verify+metrics', 'verify', 'verify@baseline', 'token@large', 'token+metrics', 'token', 'token@baseline'],
  ]);
});

test("each build is seeded by its own code: the current dist, an older baseline's dist, or the baseline's own seed script", () => {
  const current = path.join(ROOT, 'bench', 'servers', 'seed-console.js');
  assert.deepEqual(seedCommand(ROOT, 100, '/data'), [current, '100', '/data', path.join(ROOT, 'dist')]);
  const older = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-test-older-'));
  const newer = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-test-newer-'));
  try {
    fs.mkdirSync(path.join(newer, 'bench', 'servers'), { recursive: true });
    fs.writeFileSync(path.join(newer, 'bench', 'servers', 'seed-console.js'), '');
    assert.deepEqual(seedCommand(older, 100, '/data'), [current, '100', '/data', path.join(older, 'dist')]);
    assert.deepEqual(seedCommand(newer, 100, '/data'), [path.join(newer, 'bench', 'servers', 'seed-console.js'), '100', '/data']);
  } finally {
    fs.rmSync(older, { recursive: true, force: true });
    fs.rmSync(newer, { recursive: true, force: true });
  }
});

test('--baseline takes a revision or a directory; without one it is refused with a clear message', () => {
  assert.equal(parseOptions(['--baseline', '03b5e51', '--quick']).baseline, '03b5e51');
  assert.equal(parseOptions([]).baseline, undefined);
  for (const argv of [['--baseline'], ['--baseline', '--quick']]) {
    assert.throws(
      () => parseOptions(argv),
      (err) => err instanceof UsageError && /--baseline needs a git revision \(e\.g\. 03b5e51\) or the directory of a built checkout/.test(err.message),
    );
  }
});

// ---- the temporary worktree, in a fake repository ----

const PACKAGE = { name: 'fake-console', version: '1.0.0', private: true, scripts: { build: 'node build.js' } };
const LOCK = { name: 'fake-console', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'fake-console', version: '1.0.0' } } };
const BUILD_OK = "const fs = require('fs'); fs.mkdirSync('dist/src', { recursive: true }); fs.writeFileSync('dist/src/server.js', '// built');\n";
const repo = {};

function fakeRepo() {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-test-repo-')));
  const git = (...args) =>
    execFileSync('git', ['-C', root, '-c', 'user.name=bench-test', '-c', 'user.email=bench-test@localhost', ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  const commit = (files) => {
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(root, name), text);
    git('add', '-A');
    git('commit', '-q', '-m', 'fake');
    return git('rev-parse', 'HEAD');
  };
  git('init', '-q');
  const lock = JSON.stringify(LOCK, null, 2) + '\n';
  // The same lock as the working tree's, so the current node_modules is linked.
  const same = commit({ '.gitignore': 'node_modules/\ndist/\n', 'package.json': JSON.stringify(PACKAGE), 'package-lock.json': lock, 'build.js': BUILD_OK });
  // Another lock (same content, other bytes), and a postinstall that shows npm ci ran.
  const postinstall = "node -e \"require('fs').writeFileSync('installed-by-npm-ci', '')\"";
  const otherLock = commit({
    'package.json': JSON.stringify({ ...PACKAGE, scripts: { ...PACKAGE.scripts, postinstall } }),
    'package-lock.json': JSON.stringify(LOCK),
  });
  // The working tree ends on a build that fails, with the first lock again.
  const broken = commit({ 'package.json': JSON.stringify(PACKAGE), 'package-lock.json': lock, 'build.js': 'process.exit(1);\n' });
  fs.mkdirSync(path.join(root, 'node_modules', 'kept'), { recursive: true });
  fs.writeFileSync(path.join(root, 'node_modules', 'kept', 'index.js'), '');
  const worktrees = () =>
    git('worktree', 'list', '--porcelain')
      .split('\n')
      .filter((l) => l.startsWith('worktree '))
      .map((l) => l.slice('worktree '.length));
  return { root, same, otherLock, broken, worktrees };
}

const tempBaselines = () =>
  fs
    .readdirSync(os.tmpdir())
    .filter((name) => name.startsWith('console-bench-baseline-'))
    .sort();

before(() => Object.assign(repo, fakeRepo()));
after(() => fs.rmSync(repo.root, { recursive: true, force: true }));

test('--baseline REV: a worktree outside the repository, the current node_modules linked when package-lock.json is the same, built, then removed without touching node_modules', () => {
  const baseline = prepareBaseline(repo.same.slice(0, 7), { root: repo.root });
  assert.equal(baseline.temporary, true);
  assert.equal(baseline.label, repo.same.slice(0, 7));
  assert.equal(baseline.dir.startsWith(repo.root + path.sep), false);
  assert.deepEqual(repo.worktrees(), [repo.root, baseline.dir]);
  assert.equal(fs.readFileSync(path.join(baseline.dir, 'dist', 'src', 'server.js'), 'utf8'), '// built');
  assert.equal(fs.lstatSync(path.join(baseline.dir, 'node_modules')).isSymbolicLink(), true);
  assert.equal(fs.realpathSync(path.join(baseline.dir, 'node_modules')), path.join(repo.root, 'node_modules'));
  baseline.remove();
  assert.equal(fs.existsSync(path.dirname(baseline.dir)), false);
  assert.deepEqual(repo.worktrees(), [repo.root]);
  assert.equal(fs.existsSync(path.join(repo.root, 'node_modules', 'kept', 'index.js')), true);
});

test('--baseline REV whose package-lock.json differs: npm ci runs in the worktree', () => {
  const baseline = prepareBaseline(repo.otherLock, { root: repo.root });
  try {
    assert.equal(fs.existsSync(path.join(baseline.dir, 'installed-by-npm-ci')), true);
    assert.equal(fs.lstatSync(path.join(baseline.dir, 'node_modules'), { throwIfNoEntry: false })?.isSymbolicLink() ?? false, false);
  } finally {
    baseline.remove();
  }
  assert.deepEqual(repo.worktrees(), [repo.root]);
});

test('a baseline whose build fails is removed before the error is reported', () => {
  const temps = tempBaselines();
  assert.throws(() => prepareBaseline(repo.broken, { root: repo.root }), /npm run build/);
  assert.deepEqual(repo.worktrees(), [repo.root]);
  assert.deepEqual(tempBaselines(), temps);
});

test('a run that fails after the baseline was made removes it in its final cleanup', () => {
  const baseline = prepareBaseline(repo.same, { root: repo.root });
  cleanupAll();
  assert.equal(fs.existsSync(path.dirname(baseline.dir)), false);
  assert.deepEqual(repo.worktrees(), [repo.root]);
});

test('Ctrl-C (SIGINT) while the baseline exists removes it and exits 130', async () => {
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'fixtures', 'prepare-baseline.js'), repo.root, repo.same], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const { dir } = await new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk;
      if (text.includes('\n')) resolve(JSON.parse(text));
    });
    exited.then(() => reject(new Error('the fixture exited before the baseline was ready')));
  });
  assert.equal(fs.existsSync(path.join(dir, 'dist', 'src', 'server.js')), true);
  child.kill('SIGINT');
  assert.equal(await exited, 130);
  assert.equal(fs.existsSync(path.dirname(dir)), false);
  assert.deepEqual(repo.worktrees(), [repo.root]);
});

test('--baseline DIR is used as it is and never removed; without dist/ it is refused, and so is an unknown revision', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-test-checkout-'));
  try {
    assert.throws(
      () => prepareBaseline(dir, { root: repo.root }),
      (err) => err instanceof BaselineError && /dist\/src\/server\.js is missing: build that checkout first/.test(err.message),
    );
    fs.mkdirSync(path.join(dir, 'dist', 'src'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'dist', 'src', 'server.js'), '');
    const baseline = prepareBaseline(dir, { root: repo.root });
    assert.equal(baseline.dir, dir);
    assert.equal(baseline.temporary, false);
    baseline.remove();
    assert.equal(fs.existsSync(path.join(dir, 'dist', 'src', 'server.js')), true);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(
    () => prepareBaseline('no-such-revision', { root: repo.root }),
    (err) => err instanceof BaselineError && /neither a directory nor a git revision/.test(err.message),
  );
});
