import request from 'supertest';
import { createTestContext, seedCompany, signIn } from './helpers';
import type { Agent, TestContext } from './helpers';

/** htmx's history snapshots (sessionStorage) must not keep these pages' rows after sign-out. */
describe('pages kept out of htmx history', () => {
  let ctx: TestContext;
  let operator: Agent;
  beforeAll(async () => {
    ctx = createTestContext();
    await seedCompany(ctx, 'Operators', 'ops@example.test', { operator: true });
    operator = await signIn(ctx.app, 'ops@example.test');
  });
  afterAll(() => ctx.close());

  it.each(['/audit', '/operator/outbox', '/operator/access-requests'])('GET %s opts out of snapshots (hx-history="false")', async (path) => {
    const page = await operator.get(path);
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/<div hx-history="false">\s*<h1>/);
    // Back after an htmx filter then reloads the page from the server, whole (never a fragment).
    expect(page.text).toContain('"refreshOnHistoryMiss":true');
  });

  it('GET /sign-in asks the script to forget htmx history; a signed-in page does not', async () => {
    const signInPage = await request(ctx.app).get('/sign-in');
    expect(signInPage.status).toBe(200);
    expect(signInPage.text).toMatch(/<body data-forget-history[ >]/);
    const audit = await operator.get('/audit');
    expect(audit.text).not.toContain('data-forget-history');
  });

  it('GET /js/app.js removes htmx’s history cache where a page asks for it', async () => {
    const script = await request(ctx.app).get('/js/app.js');
    expect(script.status).toBe(200);
    expect(script.text).toContain("hasAttribute('data-forget-history')");
    expect(script.text).toContain("removeItem('htmx-history-cache')");
  });
});
