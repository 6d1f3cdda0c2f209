import type request from 'supertest';
import { createTestContext, seedCompany } from './helpers';
import type { Agent, TestContext } from './helpers';
import { listRoutes } from './router-routes';
import { enrolTotp, signInToEnrol } from './second-factors-support';

/**
 * The required-second-factor policy on every console route, the list read from the router (so a new
 * route is checked the day it is added): a signed-in administrator whose company requires a second
 * factor and who has none reaches nothing but enrolment, signing in and out and the one-time links.
 */

/** Not the console: no session, so no policy (the platform API authenticates every call; the health check is public). */
const NOT_CONSOLE = /^[A-Z]+ \/(oauth|api\/v1|auth\/verify|\.well-known|healthz)(\/|$)/;
/** The console routes open to a user who must enrol (signing in, with a password or a passkey, and adding an authenticator app or a passkey): nothing else. */
const OPEN = [
  'GET /sign-in',
  'POST /sign-in',
  'GET /sign-in/second-factor',
  'POST /sign-in/second-factor',
  'POST /sign-in/second-factor/passkey/options',
  'POST /sign-in/second-factor/passkey',
  'POST /sign-in/passkey/options',
  'POST /sign-in/passkey',
  'POST /sign-out',
  'GET /setup',
  'POST /setup',
  'GET /invitation',
  'POST /invitation',
  'GET /account/security',
  'POST /account/security/totp',
  'POST /account/security/totp/:id/confirm',
  'POST /account/security/totp/:id/remove',
  'POST /account/security/recovery-codes',
  'GET /account/passkeys',
  'POST /account/passkeys/options',
  'POST /account/passkeys',
  'POST /account/passkeys/:id/rename',
  'POST /account/passkeys/:id/delete',
];

describe('required second factor, on every console route (generated from the router)', () => {
  const ctx: TestContext = createTestContext();
  const routes = listRoutes(ctx.app).filter((r) => !NOT_CONSOLE.test(r));
  const gated = routes.filter((r) => !OPEN.includes(r));
  const open = routes.filter((r) => OPEN.includes(r) && r !== 'POST /sign-out');
  let agent: Agent;

  beforeAll(async () => {
    const admin = await seedCompany(ctx, 'Acme', 'admin@acme.test', { operator: true });
    await ctx.query('INSERT INTO factor_requirements (company_id, required_at) VALUES (?, ?)', admin.companyId, ctx.clock.now());
    agent = await signInToEnrol(ctx.app, admin.email);
  });
  afterAll(() => ctx.close());

  const send = (route: string, htmx = false): request.Test => {
    const [method, path] = route.split(' ');
    const url = path.replace(/:\w+/g, '1');
    const verb = method === 'ALL' ? 'put' : (method.toLowerCase() as 'get' | 'post');
    const req = agent[verb](url);
    if (htmx) req.set('HX-Request', 'true');
    return verb === 'get' ? req : req.type('form').send({ _csrf: agent.csrf });
  };

  it('lists every open route that exists, and gates the console’s other routes', () => {
    expect(OPEN.filter((r) => !routes.includes(r))).toEqual([]);
    expect(gated).toEqual(expect.arrayContaining(['GET /admin/api', 'GET /audit', 'GET /operator/companies', 'GET /operator/security', 'GET /docs']));
    console.log(`policy: ${gated.length} gated console routes, ${OPEN.length} open`);
  });

  it.each(gated)('%s: sends the user to enrol first', async (route) => {
    const res = await send(route);
    if (route.startsWith('GET ')) {
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/account/security');
    } else {
      expect(res.status).toBe(403);
      expect(res.text).toContain('Add a second factor on your Security page first');
    }
    const htmx = await send(route, true);
    expect(htmx.headers['hx-redirect']).toBe('/account/security');
  });

  it.each(open)('%s: stays open', async (route) => {
    // The gate's answers: a page redirected to /account/security, anything else refused with 403 (the routes' own answers may differ).
    const res = await send(route);
    expect(res.status).toBeLessThan(500);
    if (route.startsWith('GET ')) expect(res.headers.location).not.toBe('/account/security');
    else expect(res.status).not.toBe(403);
    expect(res.text).not.toContain('Add a second factor on your Security page first');
  });

  it('opens the console once the user has enrolled', async () => {
    const fresh = createTestContext();
    try {
      const admin = await seedCompany(fresh, 'Acme', 'admin@acme.test');
      await fresh.query('INSERT INTO factor_requirements (company_id, required_at) VALUES (?, ?)', admin.companyId, fresh.clock.now());
      const user = await signInToEnrol(fresh.app, admin.email);
      expect((await user.get('/audit')).headers.location).toBe('/account/security');
      await enrolTotp(user, fresh.clock.now());
      expect((await user.get('/audit')).status).toBe(200);
    } finally {
      await fresh.close();
    }
  });
});
