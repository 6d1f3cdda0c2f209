// `--baseline <dir-or-git-rev>`: the build the current one is compared with, in the same rounds.
// A directory is used as it is and must hold a built dist/. A git revision is checked out in a
// temporary `git worktree` outside the repository, given the current node_modules when its
// package-lock.json is the same (else `npm ci` there), built by its own `npm run build`, and
// removed when the run ends, however it ends.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { onCleanup } = require('./cleanup');

const ROOT = path.join(__dirname, '..', '..');
const SERVER = path.join('dist', 'src', 'server.js');

class BaselineError extends Error {}

const git = (cwd, args) => execFileSync('git', ['-C', cwd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** Runs a build step with its output on stderr, away from the report on stdout. */
const step = (command, args, cwd) => execFileSync(command, args, { cwd, stdio: ['ignore', 2, 2] });

function commitOf(cwd, rev) {
  try {
    return git(cwd, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
  } catch {
    return undefined;
  }
}

const isDirectory = (p) => fs.existsSync(p) && fs.statSync(p).isDirectory();
const readOrUndefined = (file) => (fs.existsSync(file) ? fs.readFileSync(file) : undefined);

function assertBuilt(dir, what) {
  if (!fs.existsSync(path.join(dir, SERVER)))
    throw new BaselineError(`${what}: ${path.join(dir, SERVER)} is missing: build that checkout first (npm run build)`);
}

/** The current node_modules when both lock files are the same (nothing to install), else `npm ci`. */
function installDependencies(dir, root, log) {
  const lock = readOrUndefined(path.join(dir, 'package-lock.json'));
  const ours = readOrUndefined(path.join(root, 'package-lock.json'));
  const modules = path.join(root, 'node_modules');
  if (lock && ours && lock.equals(ours) && isDirectory(modules)) {
    log('baseline: same package-lock.json: linking the current node_modules');
    fs.symlinkSync(fs.realpathSync(modules), path.join(dir, 'node_modules'), 'dir');
    return;
  }
  log('baseline: package-lock.json differs: npm ci');
  step('npm', ['ci', '--no-audit', '--no-fund'], dir);
}

const registered = (root, dir) => git(root, ['worktree', 'list', '--porcelain']).split('\n').includes(`worktree ${dir}`);

/** Removes the worktree and its parent directory, without ever following the node_modules link. */
function removeWorktree(root, parent, dir) {
  const link = path.join(dir, 'node_modules');
  if (fs.lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink()) fs.unlinkSync(link);
  try {
    if (registered(root, dir)) git(root, ['worktree', 'remove', '--force', dir]);
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
  }
  // When `git worktree remove` failed, git still lists the (now deleted) directory: drop that entry.
  if (registered(root, dir)) git(root, ['worktree', 'remove', '--force', dir]);
}

function checkOutRevision(spec, commit, root, log) {
  // The real path, as `git worktree list` shows it (os.tmpdir() may be reached through a link).
  const parent = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'console-bench-baseline-')));
  const dir = path.join(parent, 'checkout');
  const remove = onCleanup(() => removeWorktree(root, parent, dir));
  const short = commit.slice(0, 7);
  try {
    log(`baseline ${spec}: git worktree of ${short} in ${dir}`);
    git(root, ['worktree', 'add', '--detach', dir, commit]);
    installDependencies(dir, root, log);
    log('baseline: npm run build');
    step('npm', ['run', 'build', '--silent'], dir);
    assertBuilt(dir, `--baseline ${spec}`);
  } catch (err) {
    remove();
    throw err;
  }
  return { spec, dir, commit, label: short, temporary: true, remove };
}

function useDirectory(spec, dir) {
  assertBuilt(dir, `--baseline ${spec}`);
  const commit = commitOf(dir, 'HEAD');
  return { spec, dir, commit, label: commit ? `${dir} (${commit.slice(0, 7)})` : dir, temporary: false, remove: () => {} };
}

/**
 * The baseline checkout for `spec`: { spec, dir, commit, label, temporary, remove() }. A temporary
 * worktree is also removed by cleanupAll() and on Ctrl-C (see cleanup.js), and at once when
 * preparing it fails.
 */
function prepareBaseline(spec, { root = ROOT, log = () => {} } = {}) {
  const dir = path.resolve(spec);
  if (isDirectory(dir)) return useDirectory(spec, dir);
  const commit = commitOf(root, spec);
  if (!commit) throw new BaselineError(`--baseline ${spec}: neither a directory nor a git revision of ${root}`);
  return checkOutRevision(spec, commit, root, log);
}

module.exports = { prepareBaseline, BaselineError };
