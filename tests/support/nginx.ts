import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../ops-support';

/**
 * A real nginx from the system's packages for the tests that put one in front of the console
 * (tests/nginx-forward-auth.test.ts, tests/nginx-allowlist.test.ts, tests/replicas.test.ts): found, given a configuration with a
 * common prelude around the test's own http-level text, started in the foreground, waited for, stopped.
 * These tests never skip: without nginx they fail and say how to install it.
 */

const NGINX_CANDIDATES = ['nginx', '/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'];

/** The nginx binary; `modules` are configure flags it must have been built with (e.g. '--with-http_auth_request_module'). */
export function findNginx(modules: string[] = []): string {
  for (const candidate of NGINX_CANDIDATES) {
    const probe = spawnSync(candidate, ['-V'], { encoding: 'utf8' });
    if (probe.error) continue;
    const missing = modules.filter((flag) => !probe.stderr.includes(flag));
    if (missing.length) {
      throw new Error(`${candidate} was built without ${missing.join(', ')}; install Debian's package: apt-get install -y nginx`);
    }
    return candidate;
  }
  throw new Error('nginx is not installed, and this test does not skip. Install it (Debian: apt-get install -y nginx) and run the tests again.');
}

export interface NginxOptions {
  binary: string;
  /** An existing temporary directory: nginx's prefix, with nginx.conf, nginx.pid, logs/error.log and tmp/ in it. */
  dir: string;
  /** What goes inside `http { }` after the prelude: the server blocks under test. */
  http: string;
  /** What the configuration is, for the error when `nginx -t` rejects it. */
  name: string;
  workerConnections?: number;
}

export interface Nginx {
  /** Resolves once `url` answers as `isUp` wants (any answer by default); fails when nginx exits or after `timeoutMs`. */
  waitUntilUp: (url: string, isUp?: (res: Response) => boolean, timeoutMs?: number) => Promise<void>;
  /** SIGTERM, and waits for the exit (nothing to do if it has already exited). */
  stop: () => Promise<void>;
}

/** Writes `dir`/nginx.conf (the common prelude around `http`), checks it with `nginx -t`, and starts nginx on it. */
export function startNginx({ binary, dir, http, name, workerConnections = 64 }: NginxOptions): Nginx {
  for (const sub of ['logs', 'tmp']) fs.mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o700 });
  const conf = [
    'daemon off;',
    'worker_processes 1;',
    process.getuid?.() === 0 ? 'user root root;' : '',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/logs/error.log warn;`,
    `events { worker_connections ${workerConnections}; }`,
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/tmp/${t};`),
    http,
    '}',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const args = ['-p', `${dir}/`, '-c', `${dir}/nginx.conf`, '-e', `${dir}/logs/error.log`];
  const check = spawnSync(binary, ['-t', ...args], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`nginx rejected ${name}:\n${check.stderr}`);

  const child = spawn(binary, args);
  let log = '';
  child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    waitUntilUp: async (url, isUp = () => true, timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${log}`);
        const up = await fetch(url).then(isUp, () => false);
        if (up) return;
        if (Date.now() > deadline) throw new Error(`nginx did not start: ${log}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    stop: async () => {
      if (!running()) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The nginx snippet of docs/forward-auth.md, pointed at this test's ports. */
export function documentedSnippet(consolePort: number, apiPort: number, listenPort: number): string {
  const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'forward-auth.md'), 'utf8');
  const snippet = /```nginx\n([\s\S]*?)```/.exec(doc)?.[1];
  if (!snippet) throw new Error('docs/forward-auth.md has no ```nginx block');
  for (const expected of ['server 127.0.0.1:3000;', 'server 127.0.0.1:8080;', 'listen 80;']) {
    if (!snippet.includes(expected)) throw new Error(`the documented nginx snippet no longer contains "${expected}"`);
  }
  return snippet
    .replace('server 127.0.0.1:3000;', `server 127.0.0.1:${consolePort};`)
    .replace('server 127.0.0.1:8080;', `server 127.0.0.1:${apiPort};`)
    .replace('listen 80;', `listen 127.0.0.1:${listenPort};`);
}

export interface DocumentedProxy {
  /** Where clients call: nginx on 127.0.0.1 and a free port. */
  base: string;
  /** nginx's prefix directory (logs/error.log is in it). */
  dir: string;
  /** Stops nginx, closes the console and API servers, and removes `dir`. */
  stop: () => Promise<void>;
}

/**
 * The documented forward-auth set-up (docs/forward-auth.md) on loopback: the console app and a stand-in API
 * each on a free port, and nginx (built with auth_request) in front of them with the documented snippet,
 * in a fresh temporary directory named after `prefix`; resolves once nginx answers.
 */
export async function startDocumentedNginx(consoleApp: http.RequestListener, api: http.RequestListener, prefix: string): Promise<DocumentedProxy> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const servers: http.Server[] = [];
  let nginx: Nginx | undefined;
  const stop = async () => {
    await nginx?.stop();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const listen = async (handler: http.RequestListener) => {
    const server = http.createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  };
  try {
    const binary = findNginx(['--with-http_auth_request_module']);
    const [consolePort, apiPort, listenPort] = [await listen(consoleApp), await listen(api), await freePort()];
    const base = `http://127.0.0.1:${listenPort}`;
    nginx = startNginx({ binary, dir, name: 'the documented configuration', http: documentedSnippet(consolePort, apiPort, listenPort) });
    await nginx.waitUntilUp(`${base}/`);
    return { base, dir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
