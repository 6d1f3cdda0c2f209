// A throwaway PostgreSQL server from Debian's `postgresql` package, for the tests (TEST_ENGINE=postgres,
// the replicas test) and `npm run bench -- --engine postgres`: initdb into a temporary directory, pg_ctl on
// a free port of 127.0.0.1 (socket in that directory), durability off, stopped and deleted at the end.
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

/** The newest installed server's bin directory, e.g. /usr/lib/postgresql/15/bin. */
function postgresBinDir(root = '/usr/lib/postgresql') {
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'postgres'))) : [];
  if (!versions.length) {
    throw new Error("PostgreSQL is not installed, and what needs it does not skip. Install Debian's package (apt-get install -y postgresql) and run it again.");
  }
  versions.sort((a, b) => Number(b) - Number(a));
  return path.join(root, versions[0], 'bin');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const isRoot = () => process.getuid?.() === 0;

/** initdb refuses to run as root: as root, the server's programs run as the `postgres` user. */
function run(program, args, prefix = []) {
  const argv = [...prefix, program, ...args];
  const [command, ...rest] = isRoot() ? ['runuser', '-u', 'postgres', '--', ...argv] : argv;
  const result = spawnSync(command, rest, { encoding: 'utf8' });
  if (result.status !== 0)
    throw new Error(`${program} ${args.join(' ')} failed (${result.status}): ${result.stderr || result.stdout || result.error?.message}`);
  return result.stdout;
}

/** psql against the cluster on `port`, synchronously: one command, its unaligned output. */
function psqlOn(bin, port) {
  const args = ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'];
  return (command, database = 'postgres') => execFileSync(path.join(bin, 'psql'), [...args, '-d', database, '-c', command], { encoding: 'utf8' });
}

/** The cluster listening on `port` (started by someone else): its URL and psql. */
function clusterAt(port, bin = postgresBinDir()) {
  return {
    port,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    psql: psqlOn(bin, port),
  };
}

/**
 * Starts a cluster; `cpus` (e.g. '0') pins the server and its backends to those cores with taskset, as the
 * benchmark pins the console. Returns { port, dataDir, url(db), psql(command, db), stop() }.
 */
async function startCluster({ cpus } = {}) {
  const bin = postgresBinDir();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'console-pg-'));
  const dataDir = path.join(base, 'data');
  fs.mkdirSync(path.join(base, 'sock'));
  if (isRoot()) execFileSync('chown', ['-R', 'postgres:postgres', base]);
  run(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '-N']);
  const port = await freePort();
  // Durability off: a throwaway cluster, where fsync on every commit would only slow the run.
  const options = [
    `-p ${port} -k ${path.join(base, 'sock')} -c listen_addresses=127.0.0.1`,
    '-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200',
  ].join(' ');
  const pin = cpus === undefined ? [] : ['taskset', '-c', String(cpus)];
  run(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-o', options, '-l', path.join(base, 'server.log'), '-w', '-t', '60', 'start'], pin);
  let stopped = false;
  return {
    ...clusterAt(port, bin),
    dataDir,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        run(path.join(bin, 'pg_ctl'), ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
      } finally {
        fs.rmSync(base, { recursive: true, force: true });
      }
    },
  };
}

module.exports = { postgresBinDir, startCluster, clusterAt };
