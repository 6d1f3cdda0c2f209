import http from 'node:http';
import request from 'supertest';
import { issueInvitation } from '../src/features/auth/service';
import { createTestContext, csrfFrom, PASSWORD, seedCompany, seedUser, signIn } from './helpers';
import type { TestContext } from './helpers';

/**
 * Anonymous visitors cost no database write: before issue 10 every anonymous page (a 404 too)
 * stored a session row just to hold its CSRF token, so anyone could fill the sessions table.
 */
describe('anonymous GETs', () => {
  let ctx: TestContext;
  let server: http.Server;
  beforeEach(async () => {
    ctx = createTestContext();
    server = http.createServer(ctx.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
    await ctx.close();
  });

  /** The session cookie of a session that has ended since (the browser still sends it). */
  async function signedOutCookie(email: string): Promise<string> {
    const page = await request(server).get('/sign-in');
    const res = await request(server)
      .post('/sign-in')
      .set('Cookie', String(page.headers['set-cookie']).split(';')[0])
      .type('form')
      .send({ _csrf: csrfFrom(page.text), email, password: PASSWORD });
    const cookie = String(res.headers['set-cookie']).split(';')[0];
    const audit = await request(server).get('/audit').set('Cookie', cookie);
    expect(
      (
        await request(server)
          .post('/sign-out')
          .set('Cookie', cookie)
          .type('form')
          .send({ _csrf: csrfFrom(audit.text) })
      ).status,
    ).toBe(303);
    return cookie;
  }

  const sessionRows = () => ctx.query('SELECT sid, user_id, data, expires_at FROM sessions ORDER BY sid');

  it('1,000 of assorted pages (sign-in, 404s, /healthz, docs, static, setup and invitation links) write nothing to the database', async () => {
    const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    const invited = await issueInvitation({ db: ctx.database, clock: ctx.clock }, (await seedUser(ctx, acme.companyId, 'new@acme.test')).userId, acme.userId);
    await signIn(ctx.app, acme.email); // a live session, so "unchanged" covers rows, not only their number
    const endedCookie = await signedOutCookie(acme.email);

    const paths = [
      '/sign-in',
      '/sign-in?next=%2Faudit',
      '/',
      '/admin/api',
      '/audit',
      '/operator/companies',
      '/no-such-page',
      '/admin/api/no-such-thing',
      '/healthz',
      '/.well-known/jwks.json',
      '/.well-known/oauth-authorization-server',
      '/docs',
      '/docs/openapi.json',
      '/docs/access?token=not-a-real-link',
      '/setup',
      '/setup?token=not-a-real-token',
      '/invitation',
      '/invitation?token=not-a-real-token',
      `/invitation?token=${invited.token}`,
      '/css/app.css',
      '/js/app.js',
    ];
    const cookies = [undefined, 'console.sid=s:forged-session-id.forged-signature', endedCookie, 'console.csrf=not-a-nonce'];
    const before = { rows: await sessionRows(), writes: ctx.writes() };
    expect(before.rows).toHaveLength(1);

    const statuses = new Map<number, number>();
    const sessionCookies: string[] = [];
    const total = 1000;
    for (let batch = 0; batch < total; batch += 20) {
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, k) => {
          const n = batch + k;
          const req = request(server).get(paths[n % paths.length]);
          const cookie = cookies[Math.floor(n / paths.length) % cookies.length];
          if (cookie) req.set('Cookie', cookie);
          if (n % 3 === 0) req.set('HX-Request', 'true');
          return req;
        }),
      );
      for (const res of answers) {
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        sessionCookies.push(...([] as string[]).concat(res.headers['set-cookie'] ?? []).filter((c) => c.startsWith('console.sid=')));
      }
    }

    expect([...statuses.values()].reduce((a, b) => a + b)).toBe(total);
    expect([...statuses.keys()].filter((status) => status >= 500)).toEqual([]);
    for (const status of [200, 303, 403, 404]) expect(statuses.get(status)).toBeGreaterThan(0);
    expect(sessionCookies).toEqual([]);
    expect(await sessionRows()).toEqual(before.rows);
    expect(ctx.writes()).toBe(before.writes);
  });
});
