import request from 'supertest';
import { createTestContext, seedCompany, signIn } from './helpers';

describe('the console shell', () => {
  const ctx = createTestContext();
  afterAll(() => ctx.close());

  it('answers /healthz with a database check', async () => {
    const res = await request(ctx.app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', database: 'ok' });
  });

  it('signs an administrator in and shows the audit log', async () => {
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
    const agent = await signIn(ctx.app, 'admin@acme.test');
    const res = await agent.get('/audit');
    expect(res.status).toBe(200);
    expect(res.text).toContain('auth.sign_in');
  });
});
