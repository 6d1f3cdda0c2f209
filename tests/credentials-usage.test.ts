import request from 'supertest';
import { DAY, HOUR, MINUTE } from '../src/clock';
import { UsageTracker, USER_AGENT_MAX } from '../src/features/usage/tracker';
import { createTestContext, mistyped, seedCompany, signIn, spyOnQueries } from './helpers';
import type { TestContext } from './helpers';
import { generateApiKeyFor, generateClientCredentials, saveCredential } from '../src/features/credentials/service';
import { SYSTEM_ACTOR } from '../src/features/audit/service';
import { clientBasic, createApiKey, createClient, credentialsDeps, obtainToken, revoke } from './oauth-support';
import type { TestApiKey, TestClient } from './oauth-support';

const basic = (username: string, key: string) => `Basic ${Buffer.from(`${username}:${key}`).toString('base64')}`;

/**
 * Usage you can see (issue 14): each credential's successful uses per hour (API key checks, tokens
 * issued, Bearer checks) and its last caller, counted in memory and flushed (the API page flushes
 * before it reads), shown on the API page as a chart with the same numbers as a table.
 */
describe('credential usage', () => {
  // TRUST_PROXY: the tests say which address called through X-Forwarded-For, as a proxy would.
  const ctx: TestContext = createTestContext({ TRUST_PROXY: 'loopback' });
  let made = 0;
  afterAll(() => ctx.close());

  /** A company of its own for each test; `agent` signs its administrator in when the page is read (tests move the clock). */
  const company = async () => {
    const email = `admin${++made}@usage.test`;
    const seeded = await seedCompany(ctx, `Usage company ${made}`, email);
    return { ...seeded, agent: () => signIn(ctx.app, email) };
  };
  const me = (auth: string, from = '203.0.113.9', userAgent = 'claims-sync/2.1') =>
    request(ctx.app).get('/api/v1/me').set('Authorization', auth).set('X-Forwarded-For', from).set('User-Agent', userAgent);
  const keyAuth = (key: TestApiKey) => basic(key.username, key.key);
  const tokenFor = async (client: TestClient) => `Bearer ${await obtainToken(ctx.app, client)}`;

  /** The API page: it writes the counted uses first, then shows them. */
  const apiPage = async (agent: Awaited<ReturnType<typeof company>>['agent']) => {
    const res = await (await agent()).get('/admin/api');
    expect(res.status).toBe(200);
    return res.text;
  };
  const usageRows = (credentialId: number) =>
    ctx.query<{ hour: number; basic: number; token: number; bearer: number }>(
      'SELECT hour, basic_checks AS basic, tokens_issued AS token, bearer_checks AS bearer FROM credential_usage WHERE credential_id = ? ORDER BY hour',
      credentialId,
    );
  const asNumbers = (rows: { hour: number; basic: number; token: number; bearer: number }[]) =>
    rows.map((r) => ({ hour: Number(r.hour), basic: Number(r.basic), token: Number(r.token), bearer: Number(r.bearer) }));

  it('counts API key checks, tokens issued and Bearer checks in the hour they happened', async () => {
    const { companyId, agent } = await company();
    const key = await createApiKey(ctx, companyId, `usage-key-${made}`);
    const client = await createClient(ctx, companyId);
    ctx.clock.set(Date.UTC(2026, 10, 2, 9, 50));
    const nine = Date.UTC(2026, 10, 2, 9);
    for (let i = 0; i < 3; i++) expect((await me(keyAuth(key))).status).toBe(200);
    const verified = await request(ctx.app).get('/auth/verify').set('Authorization', keyAuth(key));
    expect(verified.status).toBe(200);
    const bearer = await tokenFor(client);
    await tokenFor(client);
    expect((await me(bearer)).status).toBe(200);
    ctx.clock.advance(15 * MINUTE); // 10:05: the next hour
    expect((await me(keyAuth(key))).status).toBe(200);
    expect((await me(bearer)).status).toBe(200);
    await apiPage(agent);
    expect(asNumbers(await usageRows(key.credentialId))).toEqual([
      { hour: nine, basic: 4, token: 0, bearer: 0 },
      { hour: nine + HOUR, basic: 1, token: 0, bearer: 0 },
    ]);
    expect(asNumbers(await usageRows(client.credentialId))).toEqual([
      { hour: nine, basic: 0, token: 2, bearer: 1 },
      { hour: nine + HOUR, basic: 0, token: 0, bearer: 1 },
    ]);
  });

  it('does not count failures: a wrong key, a refused token request, a bad or revoked token', async () => {
    const { companyId, agent } = await company();
    const key = await createApiKey(ctx, companyId, `usage-fail-${made}`);
    const client = await createClient(ctx, companyId, ['claims:read']);
    ctx.clock.set(Date.UTC(2026, 10, 3, 12, 0));
    expect((await me(basic(key.username, mistyped(key.key)))).status).toBe(401);
    const wrongSecret = await request(ctx.app)
      .post('/oauth/token')
      .set('Authorization', clientBasic(client.clientId, mistyped(client.secret)))
      .type('form')
      .send({ grant_type: 'client_credentials' });
    expect(wrongSecret.status).toBe(401);
    // The client authenticates, but asks for a scope it does not hold: no token, nothing counted.
    const wrongScope = await request(ctx.app)
      .post('/oauth/token')
      .set('Authorization', clientBasic(client.clientId, client.secret))
      .type('form')
      .send({ grant_type: 'client_credentials', scope: 'claims:write' });
    expect(wrongScope.status).toBe(400);
    expect((await me('Bearer not.a.token')).status).toBe(401);
    const other = await createClient(ctx, companyId, ['claims:read']); // replaces `client`: its tokens stop working
    const stale = `Bearer ${await obtainToken(ctx.app, other)}`;
    await revoke(ctx, companyId, other.credentialId);
    expect((await me(stale)).status).toBe(401);
    await apiPage(agent);
    expect(await usageRows(key.credentialId)).toEqual([]);
    expect(await usageRows(client.credentialId)).toEqual([]);
    expect(asNumbers(await usageRows(other.credentialId))).toEqual([{ hour: Date.UTC(2026, 10, 3, 12), basic: 0, token: 1, bearer: 0 }]);
  });

  it('does not count a call the IP allowlist refuses, nor take it as the last use or the last caller', async () => {
    const { companyId, agent } = await company();
    const key = await createApiKey(ctx, companyId, `usage-allowlist-${made}`);
    const client = await createClient(ctx, companyId);
    const admin = await agent();
    for (const id of [key.credentialId, client.credentialId]) {
      const saved = await admin.post(`/admin/api/credentials/${id}/allowlist`).type('form').send({ _csrf: admin.csrf, allowlist: '198.51.100.0/24' });
      expect(saved.status).toBe(303);
    }
    const tokenFrom = (from: string) =>
      request(ctx.app)
        .post('/oauth/token')
        .set('Authorization', clientBasic(client.clientId, client.secret))
        .set('X-Forwarded-For', from)
        .set('User-Agent', from === '198.51.100.7' ? 'allowed/1.0' : 'elsewhere/1.0')
        .type('form')
        .send({ grant_type: 'client_credentials' });
    ctx.clock.set(Date.UTC(2026, 10, 5, 8, 50));
    const allowedAt = ctx.clock.now();
    const issued = await tokenFrom('198.51.100.7'); // the client's one use, from an allowed address
    expect(issued.status).toBe(200);
    const bearer = `Bearer ${(issued.body as { access_token: string }).access_token}`;

    ctx.clock.advance(15 * MINUTE); // 09:05: a use counted now would land in another hour, and move the last use (the token still works)
    expect((await me(keyAuth(key), '203.0.113.9', 'elsewhere/1.0')).status).toBe(403);
    const verified = await request(ctx.app).get('/auth/verify').set('Authorization', keyAuth(key)).set('X-Forwarded-For', '203.0.113.9');
    expect(verified.status).toBe(403);
    expect((await tokenFrom('203.0.113.9')).status).toBe(401);
    expect((await me(bearer, '203.0.113.9', 'elsewhere/1.0')).status).toBe(403);
    await apiPage(agent); // writes whatever was counted and touched

    expect(await usageRows(key.credentialId)).toEqual([]);
    expect(await ctx.value('SELECT last_used_at FROM credentials WHERE id = ?', key.credentialId)).toBeNull();
    expect(await ctx.query('SELECT address FROM credential_callers WHERE credential_id = ?', key.credentialId)).toEqual([]);
    expect(asNumbers(await usageRows(client.credentialId))).toEqual([{ hour: Date.UTC(2026, 10, 5, 8), basic: 0, token: 1, bearer: 0 }]);
    expect(Number(await ctx.value('SELECT last_used_at FROM credentials WHERE id = ?', client.credentialId))).toBe(allowedAt);
    expect(await ctx.query('SELECT address, user_agent FROM credential_callers WHERE credential_id = ?', client.credentialId)).toEqual([
      { address: '198.51.100.7', user_agent: 'allowed/1.0' },
    ]);
  });

  it('does not count a call with a credential past its lifetime, nor take it as its last use', async () => {
    const { companyId, agent } = await company();
    const deps = credentialsDeps(ctx);
    ctx.clock.set(Date.UTC(2026, 9, 1, 12, 0));
    const key = await generateApiKeyFor(deps, companyId, `usage-expired-${made}`, SYSTEM_ACTOR);
    expect((await saveCredential(deps, companyId, 'basic', key.credential.id, 'none', SYSTEM_ACTOR, 30)).ok).toBe(true);
    const client = await generateClientCredentials(deps, companyId, undefined, SYSTEM_ACTOR);
    expect((await saveCredential(deps, companyId, 'oauth', client.credential.id, 'none', SYSTEM_ACTOR, 30)).ok).toBe(true);
    ctx.clock.advance(30 * DAY + MINUTE); // past both lifetimes, before any sweep marks them expired
    expect((await me(basic(key.credential.identifier, key.secret))).status).toBe(401);
    const token = await request(ctx.app)
      .post('/oauth/token')
      .set('Authorization', clientBasic(client.credential.identifier, client.secret))
      .type('form')
      .send({ grant_type: 'client_credentials' });
    expect(token.status).toBe(401);
    await apiPage(agent);
    for (const id of [key.credential.id, client.credential.id]) {
      expect(await usageRows(id)).toEqual([]);
      expect(await ctx.value('SELECT last_used_at FROM credentials WHERE id = ?', id)).toBeNull();
      expect(await ctx.query('SELECT address FROM credential_callers WHERE credential_id = ?', id)).toEqual([]);
    }
  });

  it('writes nothing to the database per request: uses are counted in memory', async () => {
    const { companyId, agent } = await company();
    const key = await createApiKey(ctx, companyId, `usage-quiet-${made}`);
    const client = await createClient(ctx, companyId);
    const bearer = await tokenFor(client);
    const queries = spyOnQueries(ctx.database);
    try {
      for (let i = 0; i < 20; i++) {
        expect((await me(keyAuth(key))).status).toBe(200);
        expect((await me(bearer)).status).toBe(200);
      }
      const usageWrites = queries.sqls().filter((text) => /^\s*(insert|update|delete)\b[^;]*credential_(usage|callers)/i.test(text));
      // 40 requests; one 5-second flush may fall in here: two credentials' hour and caller, and the hourly prune.
      expect(usageWrites.length).toBeLessThanOrEqual(5);
    } finally {
      queries.restore();
    }
    await apiPage(agent);
    const total = (await usageRows(key.credentialId)).reduce((n, r) => n + Number(r.basic), 0);
    expect(total).toBe(20);
  });

  it('adds up the counts of two processes that flush to one database, and keeps the later caller', async () => {
    const { companyId } = await company();
    const key = await createApiKey(ctx, companyId, `usage-replicas-${made}`);
    const another = ctx.openAnother();
    try {
      ctx.clock.set(Date.UTC(2026, 10, 4, 8, 30));
      const here = new UsageTracker(ctx.database, ctx.clock);
      const there = new UsageTracker(another.db, ctx.clock);
      here.count(key.credentialId, 'basic', '198.51.100.1', 'here/1');
      here.count(key.credentialId, 'basic', '198.51.100.1', 'here/1');
      ctx.clock.advance(MINUTE);
      there.count(key.credentialId, 'basic', '198.51.100.2', 'there/1');
      expect(await there.flush()).toBe(1); // the later caller flushes first
      expect(await here.flush()).toBe(1);
      here.count(key.credentialId, 'basic', '198.51.100.1', 'here/1');
      expect(await here.flush()).toBe(1);
      expect(asNumbers(await usageRows(key.credentialId))).toEqual([{ hour: Date.UTC(2026, 10, 4, 8), basic: 4, token: 0, bearer: 0 }]);
      expect(await ctx.query('SELECT address, user_agent FROM credential_callers WHERE credential_id = ?', key.credentialId)).toEqual([
        { address: '198.51.100.1', user_agent: 'here/1' },
      ]);
      there.count(key.credentialId, 'basic', '198.51.100.2', 'there/1');
      ctx.clock.set(Date.UTC(2026, 10, 4, 8, 0)); // an earlier use flushed late never replaces the last caller
      here.count(key.credentialId, 'basic', '198.51.100.3', 'late/1');
      await here.flush();
      expect(await ctx.value('SELECT address FROM credential_callers WHERE credential_id = ?', key.credentialId)).toBe('198.51.100.1');
      await there.stop();
    } finally {
      await another.close();
    }
  });

  it('keeps the counts of a flush that failed, and writes them with the next one', async () => {
    const { companyId } = await company();
    const key = await createApiKey(ctx, companyId, `usage-retry-${made}`);
    const tracker = new UsageTracker(ctx.database, ctx.clock);
    ctx.clock.set(Date.UTC(2026, 10, 8, 14, 40));
    tracker.count(key.credentialId, 'basic', '198.51.100.1', 'first/1');
    const failing = jest.spyOn(ctx.database, 'transaction').mockImplementationOnce(() => {
      throw new Error('the database is away');
    });
    await expect(tracker.flush()).rejects.toThrow('the database is away');
    failing.mockRestore();
    ctx.clock.advance(30 * MINUTE); // the next hour
    tracker.count(key.credentialId, 'basic', '198.51.100.2', 'second/1');
    tracker.count(key.credentialId, 'basic', '198.51.100.2', 'second/1');
    expect(await tracker.flush()).toBe(1);
    expect(asNumbers(await usageRows(key.credentialId))).toEqual([
      { hour: Date.UTC(2026, 10, 8, 14), basic: 1, token: 0, bearer: 0 },
      { hour: Date.UTC(2026, 10, 8, 15), basic: 2, token: 0, bearer: 0 },
    ]);
    expect(await ctx.value('SELECT address FROM credential_callers WHERE credential_id = ?', key.credentialId)).toBe('198.51.100.2');
  });

  it('prunes hours older than 30 days', async () => {
    const { companyId } = await company();
    const key = await createApiKey(ctx, companyId, `usage-prune-${made}`);
    const tracker = new UsageTracker(ctx.database, ctx.clock);
    const start = Date.UTC(2026, 9, 1, 6, 15);
    ctx.clock.set(start);
    tracker.count(key.credentialId, 'basic', '198.51.100.1', undefined);
    await tracker.flush();
    ctx.clock.set(start + 2 * DAY);
    tracker.count(key.credentialId, 'basic', '198.51.100.1', undefined);
    await tracker.flush();
    expect(await usageRows(key.credentialId)).toHaveLength(2);
    ctx.clock.set(start + 30 * DAY + HOUR); // the first hour ended more than 30 days ago; the second did not
    await tracker.flush();
    expect(asNumbers(await usageRows(key.credentialId))).toEqual([{ hour: Date.UTC(2026, 9, 3, 6), basic: 1, token: 0, bearer: 0 }]);
  });

  it('shows the last caller’s address and user agent (truncated) on the API page', async () => {
    const { companyId, agent } = await company();
    const key = await createApiKey(ctx, companyId, `usage-caller-${made}`);
    const longAgent = `claims-sync/2.1 ${'x'.repeat(400)}`;
    expect((await me(keyAuth(key), '192.0.2.44', longAgent)).status).toBe(200);
    const html = await apiPage(agent);
    const panel = usagePanel(html, key.credentialId);
    expect(panel).toContain('<code>192.0.2.44</code>');
    expect(panel).toContain(`<span class="user-agent">${longAgent.slice(0, USER_AGENT_MAX)}</span>`);
    expect(panel).not.toContain(longAgent.slice(0, USER_AGENT_MAX + 1));
  });

  it('shows the same numbers in the chart and in its table', async () => {
    const { companyId, agent } = await company();
    const key = await createApiKey(ctx, companyId, `usage-chart-${made}`);
    ctx.clock.set(Date.UTC(2026, 10, 5, 23, 30));
    for (let i = 0; i < 3; i++) expect((await me(keyAuth(key))).status).toBe(200);
    ctx.clock.advance(HOUR); // 00:30 on the 6th: a new day and a new hour
    for (let i = 0; i < 2; i++) expect((await me(keyAuth(key))).status).toBe(200);
    const html = usagePanel(await apiPage(agent), key.credentialId);
    const days = `usage-${key.credentialId}-days`;
    const hours = `usage-${key.credentialId}-hours`;
    expect(barValues(html, days)).toHaveLength(30);
    expect(barValues(html, hours)).toHaveLength(24);
    expect(barValues(html, days)).toEqual(tableTotals(html, days));
    expect(barValues(html, hours)).toEqual(tableTotals(html, hours));
    expect(barValues(html, days).slice(-2)).toEqual([3, 2]);
    expect(barValues(html, hours).slice(-2)).toEqual([3, 2]);
    expect(html).toContain('<th scope="row">2026-11-06</th><td data-label="API key checks">2</td><td data-label="Total" data-total>2</td>');
    expect(html).toContain('5 successful uses in the last 30 days.');
  });

  it('shows the old and the new key side by side during an overlap, each with its last use and caller', async () => {
    const { companyId, agent } = await company();
    const username = `usage-overlap-${made}`;
    const old = await createApiKey(ctx, companyId, username);
    ctx.clock.set(Date.UTC(2026, 10, 7, 10, 0));
    expect((await me(keyAuth(old), '198.51.100.7', 'legacy-batch/1.0')).status).toBe(200);
    const fresh = await createApiKey(ctx, companyId, username, '24h');
    ctx.clock.advance(MINUTE);
    expect((await me(keyAuth(fresh), '198.51.100.8', 'new-batch/2.0')).status).toBe(200);
    const admin = await agent();
    for (const htmx of [false, true]) {
      const res = await admin.get('/admin/api').set(htmx ? { 'HX-Request': 'true' } : {});
      expect(res.status).toBe(200);
      expect(res.text).toContain('class="usage-panels usage-overlap"');
      const oldPanel = usagePanel(res.text, old.credentialId);
      const newPanel = usagePanel(res.text, fresh.credentialId);
      expect(oldPanel).toContain('Overlap');
      expect(oldPanel).toContain('<code>198.51.100.7</code> <span class="user-agent">legacy-batch/1.0</span>');
      expect(oldPanel).toContain('2026-11-07 10:00 UTC');
      expect(newPanel).toContain('Active');
      expect(newPanel).toContain('<code>198.51.100.8</code> <span class="user-agent">new-batch/2.0</span>');
      // The new key first (the one in use), then the old one in its overlap.
      expect(res.text.indexOf(`data-credential="${fresh.credentialId}"`)).toBeLessThan(res.text.indexOf(`data-credential="${old.credentialId}"`));
    }
  });
});

/** One credential's usage panel in the page. */
function usagePanel(html: string, credentialId: number): string {
  const start = html.indexOf(`<section class="usage-panel" aria-labelledby="usage-${credentialId}-title"`);
  expect(start).toBeGreaterThanOrEqual(0);
  return html.slice(start, html.indexOf('</section>', start));
}

/** The numbers the chart's bars stand for, in order. */
function barValues(html: string, chartId: string): number[] {
  const svg = html.slice(html.indexOf(`data-chart="${chartId}"`), html.indexOf('</svg>', html.indexOf(`data-chart="${chartId}"`)));
  return [...svg.matchAll(/<rect [^>]*data-value="(\d+)"/g)].map((m) => Number(m[1]));
}

/** The table's Total column, in order. */
function tableTotals(html: string, chartId: string): number[] {
  const start = html.indexOf(`data-table="${chartId}"`);
  expect(start).toBeGreaterThanOrEqual(0);
  const table = html.slice(start, html.indexOf('</table>', start));
  return [...table.matchAll(/<td data-label="Total" data-total>(\d+)<\/td>/g)].map((m) => Number(m[1]));
}
