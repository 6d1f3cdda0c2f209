import express from 'express';
import request from 'supertest';
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
    const closed = ctx.openAnother();
    await closed.close();
    const app = express().use(healthRouter(closed.db));
    const res = await request(app).get('/healthz');
    expect(res.status).toBe(503);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({ status: 'error', database: 'unavailable' });
  });

  it('signs an administrator in and shows the audit log', async () => {
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
    const agent = await signIn(ctx.app, 'admin@acme.test');
    const res = await agent.get('/audit');
    expect(res.status).toBe(200);
    expect(res.text).toContain('auth.sign_in');
  });
});
