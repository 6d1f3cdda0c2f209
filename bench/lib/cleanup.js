// What a run must undo however it ends (finished, failed, Ctrl-C or SIGTERM): seeded data
// directories, the baseline's temporary git worktree. Every undo is synchronous, so that it can
// run inside a signal handler right before the process exits.
'use strict';

const pending = [];
const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 };

/** Registers `undo`; returns a function that runs it now (once) and forgets it. */
function onCleanup(undo) {
  let done = false;
  const run = () => {
    if (done) return;
    done = true;
    const i = pending.indexOf(run);
    if (i >= 0) pending.splice(i, 1);
    undo();
  };
  pending.push(run);
  return run;
}

/** Runs every pending undo, the latest first; one that throws is reported and the others still run. */
function cleanupAll(report = (err) => process.stderr.write(`bench: cleanup failed: ${err.message}\n`)) {
  while (pending.length) {
    try {
      pending[pending.length - 1]();
    } catch (err) {
      report(err);
    }
  }
}

/**
 * On Ctrl-C or SIGTERM, undoes everything and exits (130 / 143). Servers, generators, npm and git
 * children share the process group, so Ctrl-C reaches them too.
 */
function cleanupOnSignals(log) {
  for (const [signal, code] of Object.entries(SIGNAL_EXIT_CODES)) {
    process.once(signal, () => {
      log(`bench: ${signal}: cleaning up`);
      cleanupAll();
      process.exit(code);
    });
  }
}

module.exports = { onCleanup, cleanupAll, cleanupOnSignals };
