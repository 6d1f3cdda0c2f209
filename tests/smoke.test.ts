import net from 'node:net';
import express from 'express';
import request from 'supertest';
import { connect } from '../src/db/connect';
import { migrationFiles } from '../src/db/migrate';
import { healthRouter } from '../src/features/health/routes';
import { createTestContext, seedCompany, signIn } from './helpers';

describe('the console shell', () => {
  const ctx = createTestContext();
  afterAll(() => ctx.close());

  it('answers /healthz with a database check', async () => {
    const res = await request(ctx.app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({ status: 'ok', database: 'ok', migrations: migrationFiles().length });
  });

  it('answers /healthz with 503 when the database does not answer', async () => {
    // SQLite: a connection closed under the route. PostgreSQL: a server address nothing listens on.
    const closed = ctx.engine === 'postgres' ? connect({ databaseUrl: 'postgres://postgres@127.0.0.1:9/unreachable', databaseFile: '' }) : ctx.openAnother();
    if (ctx.engine === 'sqlite') await closed.close();
    const app = express().use(healthRouter(closed.db));
    const res = await request(app).get('/healthz');
    expect(res.status).toBe(503);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({ status: 'error', database: 'unavailable' });
    if (ctx.engine === 'postgres') await closed.close();
  });

  it('answers /healthz with 503 within its time limit when PostgreSQL accepts the connection but never answers', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const stuck = connect({ databaseUrl: `postgres://console@127.0.0.1:${port}/console`, databaseFile: '', poolSize: 1 });
    try {
      const app = express().use(healthRouter(stuck.db, 200));
      const started = Date.now();
      const res = await request(app).get('/healthz');
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ status: 'error', database: 'unavailable' });
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      for (const socket of sockets) socket.destroy(); // the stuck connection attempt fails, so the pool can close
      silent.close();
      await stuck.close();
    }
  });

  it('signs an administrator in and shows the audit log', async () => {
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
    const agent = await signIn(ctx.app, 'admin@acme.test');
    const res = await agent.get('/audit');
    expect(res.status).toBe(200);
    expect(res.text).toContain('auth.sign_in');
  });
});
