import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureBuilt, freePort, startServer } from './ops-support';
import type { RunningServer } from './ops-support';
import { parseExposition, sampleValue } from './support/prometheus-text';

/**
 * The built server (dist/src/server.js) with METRICS_TOKEN and METRICS_PORT: /metrics on the public
 * port and on a second listener on 127.0.0.1 that serves nothing else, every statement timed, and both
 * listeners closed on SIGTERM. The server runs on its SQLite file (DATA_DIR) on either test engine.
 */
const TOKEN = 'metrics-server-token-0123456789ab';

describe('the server with METRICS_TOKEN and METRICS_PORT', () => {
  let dataDir: string;
  let running: RunningServer;
  let metricsPort: number;
  const get = (port: number, target: string, token?: string) =>
    fetch(`http://127.0.0.1:${port}${target}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });

  beforeAll(async () => {
    ensureBuilt();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-metrics-server-'));
    metricsPort = await freePort();
    running = await startServer({ DATA_DIR: dataDir, LOG_LEVEL: 'info', METRICS_TOKEN: TOKEN, METRICS_PORT: String(metricsPort) }, await freePort());
  }, 200_000);

  afterAll(async () => {
    if (running?.child.exitCode === null) {
      running.child.kill('SIGKILL');
      await running.exited;
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves /metrics on PORT with the token, and times the statements the start-up ran', async () => {
    expect((await get(running.port, '/metrics')).status).toBe(401);
    const res = await get(running.port, '/metrics', TOKEN);
    expect(res.status).toBe(200);
    const families = parseExposition(await res.text());
    expect(sampleValue(families, 'console_db_query_duration_seconds_count', { kind: 'read' })).toBeGreaterThan(0);
    expect(sampleValue(families, 'console_db_query_duration_seconds_count', { kind: 'write' })).toBeGreaterThan(0);
    expect(families.get('console_build_info')!.samples[0].labels.engine).toBe('sqlite');
  });

  it('serves /metrics on METRICS_PORT with the same token rule, and nothing else there', async () => {
    expect((await get(metricsPort, '/metrics')).status).toBe(401);
    expect((await get(metricsPort, '/metrics', 'a-wrong-token-of-some-length')).status).toBe(401);
    const res = await get(metricsPort, '/metrics', TOKEN);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    for (const target of ['/healthz', '/sign-in', '/.well-known/jwks.json']) expect((await get(metricsPort, target, TOKEN)).status).toBe(404);
  });

  it('closes both listeners on SIGTERM and exits 0', async () => {
    running.child.kill('SIGTERM');
    expect(await running.exited).toEqual({ code: 0, signal: null });
    await expect(get(metricsPort, '/metrics', TOKEN)).rejects.toThrow();
    expect(running.output()).toContain('metrics listening on 127.0.0.1');
  });
});
