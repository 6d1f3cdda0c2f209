import { MINUTE } from '../src/clock';
import { AuditLog, SYSTEM_ACTOR } from '../src/features/audit/service';
import * as service from '../src/features/credentials/service';
import type { Overlap } from '../src/features/credentials/service';
import { generateApiKeyFor, generateClientCredentials } from '../src/features/credentials/service';
import { createTestContext, seedCompany, signIn } from './helpers';
import type { Agent, TestContext } from './helpers';
import { apiKeyWorks, clientWorks, generateApiKey, generateClient, htmx, saveCredential } from './credentials-helpers';

describe('credentials across companies, and the operator’s view', () => {
  const ctx = createTestContext();
  let acme: Agent;
  let globex: Agent;
  let operator: Agent;
  let acmeKey: { id: number; key: string };
  let acmePendingKey: { id: number };
  let acmeClient: { id: number; clientId: string; secret: string };
  let acmePendingClient: { id: number };
  let globexKey: { id: number; key: string };
  afterAll(() => ctx.close());

  beforeAll(async () => {
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
    await seedCompany(ctx, 'Globex', 'admin@globex.test');
    await seedCompany(ctx, 'Operators', 'ops@deploy.test', { operator: true });
    acme = await signIn(ctx.app, 'admin@acme.test');
    globex = await signIn(ctx.app, 'admin@globex.test');
    operator = await signIn(ctx.app, 'ops@deploy.test');

    acmeKey = await generateApiKey(acme, 'acme-api');
    await saveCredential(acme, 'basic-auth', acmeKey.id);
    acmePendingKey = await generateApiKey(acme, 'acme-api');
    acmeClient = await generateClient(acme);
    await saveCredential(acme, 'oauth', acmeClient.id);
    acmePendingClient = await generateClient(acme);
    globexKey = await generateApiKey(globex, 'globex-api');
    await saveCredential(globex, 'basic-auth', globexKey.id);
  });

  describe('an administrator of another company gets 404 for every credentials route', () => {
    const routes = (h: Record<string, string>): [string, () => Promise<{ status: number; text: string }>][] => [
      ['save of a pending key', () => saveCredential(globex, 'basic-auth', acmePendingKey.id, undefined, h)],
      ['save of a pending client', () => saveCredential(globex, 'oauth', acmePendingClient.id, undefined, h)],
      ['save of a pending key by its own company, as a client', () => saveCredential(acme, 'oauth', acmePendingKey.id, undefined, h)],
      ['revoke confirmation of a key', () => globex.get(`/admin/api/credentials/${acmeKey.id}/revoke`).set(h)],
      ['revoke confirmation of a client', () => globex.get(`/admin/api/credentials/${acmeClient.id}/revoke`).set(h)],
      ['revoke confirmation of a pending key', () => acme.get(`/admin/api/credentials/${acmePendingKey.id}/revoke`).set(h)],
      [
        'revoke of a key',
        () => globex.post(`/admin/api/credentials/${acmeKey.id}/revoke`).set(h).type('form').send({ _csrf: globex.csrf, reason: 'Not mine' }),
      ],
      [
        'revoke of a client',
        () => globex.post(`/admin/api/credentials/${acmeClient.id}/revoke`).set(h).type('form').send({ _csrf: globex.csrf, reason: 'Not mine' }),
      ],
    ];

    it.each([
      ['without script', {}],
      ['with htmx', htmx],
    ])('%s, and nothing of the other company changes', async (_name, headers) => {
      for (const [what, call] of routes(headers)) {
        const res = await call();
        expect([what, res.status]).toEqual([what, 404]);
        expect(res.text).not.toContain('acme-api');
        expect(res.text).not.toContain(acmeClient.clientId);
      }
      expect(await apiKeyWorks(ctx, 'acme-api', acmeKey.key)).toBe(true);
      expect(await clientWorks(ctx, acmeClient.clientId, acmeClient.secret)).toBe(true);
      const statuses = await ctx.query<{ status: string }>(
        'SELECT status FROM credentials WHERE id IN (?, ?) ORDER BY id',
        acmePendingKey.id,
        acmePendingClient.id,
      );
      expect(statuses.map((r) => r.status)).toEqual(['pending', 'pending']);
    });

    it('does not show the other company’s credentials on its own API page', async () => {
      const page = await globex.get('/admin/api');
      expect(page.text).toContain('globex-api');
      expect(page.text).not.toContain('acme-api');
      expect(page.text).not.toContain(acmeClient.clientId);
    });
  });

  describe('GET /operator/credentials', () => {
    it('is not found for administrators', async () => {
      expect((await acme.get('/operator/credentials')).status).toBe(404);
      expect((await acme.get(`/operator/credentials/${globexKey.id}/revoke`)).status).toBe(404);
      const post = await acme.post(`/operator/credentials/${globexKey.id}/revoke`).type('form').send({ _csrf: acme.csrf, reason: 'Not allowed' });
      expect(post.status).toBe(404);
    });

    it('lists every company’s working credentials without a secret', async () => {
      const res = await operator.get('/operator/credentials');
      expect(res.status).toBe(200);
      expect(res.text).toContain('<h1>Credentials</h1>');
      expect(res.text).toContain('<a href="/operator/credentials" aria-current="page">Credentials</a>');
      expect(res.text).toContain('<td data-label="Username or Client ID"><code>acme-api</code></td>');
      expect(res.text).toContain('<td data-label="Username or Client ID"><code>globex-api</code></td>');
      expect(res.text).toContain(`<td data-label="Username or Client ID"><code>${acmeClient.clientId}</code></td>`);
      expect(res.text).toContain(`<td data-label="Secret"><code>${acmeKey.key.slice(0, 10)}…</code></td>`);
      expect(res.text).toContain('<td data-label="Company">Acme</td>');
      expect(res.text).toContain('<td data-label="Company">Globex</td>');
      for (const secret of [acmeKey.key, acmeClient.secret, globexKey.key]) expect(res.text).not.toContain(secret);
      // Pending (unsaved) generations are not credentials yet.
      expect(res.text).not.toContain(`/operator/credentials/${acmePendingKey.id}/revoke`);
    });

    it('shows the last use', async () => {
      expect(await apiKeyWorks(ctx, 'globex-api', globexKey.key)).toBe(true);
      const res = await operator.get('/operator/credentials');
      expect(res.text).toContain(`<time datetime="${new Date(ctx.clock.now()).toISOString()}">`);
    });
  });

  describe('operator revoke', () => {
    it('asks for a reason on a confirmation page, then revokes at once', async () => {
      const confirm = await operator.get(`/operator/credentials/${globexKey.id}/revoke`);
      expect(confirm.status).toBe(200);
      expect(confirm.text).toContain('<h1>Revoke credential</h1>');
      expect(confirm.text).toContain(`action="/operator/credentials/${globexKey.id}/revoke"`);
      expect(confirm.text).toContain('<a href="/operator/credentials">Cancel</a>');

      const fragment = await operator.get(`/operator/credentials/${globexKey.id}/revoke`).set(htmx);
      expect(fragment.status).toBe(200);
      expect(fragment.text).not.toContain('<html');

      const noReason = await operator.post(`/operator/credentials/${globexKey.id}/revoke`).type('form').send({ _csrf: operator.csrf, reason: '' });
      expect(noReason.status).toBe(422);
      expect(noReason.text).toContain('Say why you revoke it (at least 3 characters).');
      expect(await apiKeyWorks(ctx, 'globex-api', globexKey.key)).toBe(true);

      const res = await operator.post(`/operator/credentials/${globexKey.id}/revoke`).type('form').send({ _csrf: operator.csrf, reason: 'Abuse report #42' });
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/operator/credentials');
      expect(await apiKeyWorks(ctx, 'globex-api', globexKey.key)).toBe(false);
      const list = await operator.get('/operator/credentials');
      expect(list.text).toContain('API key for globex-api revoked. It stopped working at once.');
      expect(list.text).not.toContain('<td data-label="Username or Client ID"><code>globex-api</code></td>');

      const [entry] = await ctx.query<{ actor: string; companyId: number; details: string }>(
        `SELECT actor, company_id AS "companyId", details FROM audit_log WHERE action = 'credential.revoke' ORDER BY id DESC`,
      );
      expect(entry.actor).toBe('ops@deploy.test');
      expect(JSON.parse(entry.details)).toMatchObject({ reason: 'Abuse report #42', kind: 'basic' });

      // The company's own page shows who revoked it and why.
      const page = await globex.get('/admin/api');
      expect(page.text).toContain('ops@deploy.test: Abuse report #42');
    });

    it('with htmx: success is a full-page redirect to the list', async () => {
      const res = await operator
        .post(`/operator/credentials/${acmeClient.id}/revoke`)
        .set(htmx)
        .type('form')
        .send({ _csrf: operator.csrf, reason: 'Rotating everything' });
      expect(res.status).toBe(204);
      expect(res.headers['hx-redirect']).toBe('/operator/credentials');
      expect(await clientWorks(ctx, acmeClient.clientId, acmeClient.secret)).toBe(false);
    });

    it('says so when the credential no longer works', async () => {
      const client = await generateClient(globex);
      await saveCredential(globex, 'oauth', client.id);
      const revoke = (reason: string) => operator.post(`/operator/credentials/${client.id}/revoke`).type('form').send({ _csrf: operator.csrf, reason });
      expect((await revoke('Rotating everything')).status).toBe(303);
      const res = await revoke('Again');
      expect(res.status).toBe(409);
      expect(res.text).toContain('This credential is already revoked.');
    });

    it('answers 404 for a pending or unknown credential', async () => {
      expect((await operator.get(`/operator/credentials/${acmePendingKey.id}/revoke`)).status).toBe(404);
      expect((await operator.get('/operator/credentials/987654/revoke')).status).toBe(404);
    });
  });
});

/** The states a credential can be in, each of which another company must never see or touch. */
const STATES = ['pending', 'active', 'retiring', 'retired', 'revoked', 'expired'] as const;
type State = (typeof STATES)[number];
type Kind = 'basic' | 'oauth';

interface Seeded {
  id: number;
  identifier: string;
  prefix: string;
  secret: string;
}

/**
 * One company's credentials of one kind in every state, made the way the service makes them:
 * revoked, then retired, then one in its 24-hour overlap beside the active one, one left to expire
 * and swept, and one just generated.
 */
async function seedEveryState(ctx: TestContext, companyId: number, kind: Kind, username: string): Promise<Record<State, Seeded>> {
  const deps = { db: ctx.database, clock: ctx.clock, audit: new AuditLog(ctx.database, ctx.clock), mailer: { send: () => Promise.resolve(0) } };
  const generate = async (): Promise<Seeded> => {
    const g =
      kind === 'basic'
        ? await generateApiKeyFor(deps, companyId, username, SYSTEM_ACTOR)
        : await generateClientCredentials(deps, companyId, undefined, SYSTEM_ACTOR);
    return { id: g.credential.id, identifier: g.credential.identifier, prefix: g.credential.secretPrefix, secret: g.secret };
  };
  const save = async (c: Seeded, overlap: Overlap) => expect((await service.saveCredential(deps, companyId, kind, c.id, overlap, SYSTEM_ACTOR)).ok).toBe(true);
  const revoked = await generate();
  await save(revoked, 'none');
  await service.revokeCredential(deps, companyId, revoked.id, 'Leaked in a log', SYSTEM_ACTOR);
  const retired = await generate();
  await save(retired, 'none');
  const retiring = await generate();
  await save(retiring, 'none'); // `retired` stops now
  const active = await generate();
  await save(active, '24h'); // `retiring` keeps working for 24 hours
  const expired = await generate();
  ctx.clock.advance(31 * MINUTE);
  await service.sweepCredentials(deps);
  const pending = await generate();
  const seeded = { pending, active, retiring, retired, revoked, expired };
  for (const state of STATES) expect([state, await statusOf(ctx, seeded[state].id)]).toEqual([state, state]);
  return seeded;
}

const statusOf = async (ctx: TestContext, id: number): Promise<string> =>
  (await ctx.query<{ status: string }>('SELECT status FROM credentials WHERE id = ?', id))[0].status;

/** Everything stored about one company's credentials and usernames, to compare before and after. */
const companyRows = async (ctx: TestContext, companyId: number) => ({
  credentials: await ctx.query('SELECT * FROM credentials WHERE company_id = ? ORDER BY id', companyId),
  usernames: await ctx.query('SELECT * FROM api_usernames WHERE company_id = ? ORDER BY username', companyId),
});

describe('two companies with credentials in every state, overlap included', () => {
  let ctx: TestContext;
  let companyA: number;
  let b: Agent;
  let a: Record<Kind, Record<State, Seeded>>;
  let ofB: Record<Kind, Record<State, Seeded>>;

  beforeEach(async () => {
    ctx = createTestContext();
    companyA = (await seedCompany(ctx, 'Acme', 'admin@acme.test')).companyId;
    const companyB = (await seedCompany(ctx, 'Globex', 'admin@globex.test')).companyId;
    // B first: A's overlaps are made last, so nothing B's seeding did can have ended them.
    ofB = { basic: await seedEveryState(ctx, companyB, 'basic', 'globex-api'), oauth: await seedEveryState(ctx, companyB, 'oauth', '') };
    a = { basic: await seedEveryState(ctx, companyA, 'basic', 'acme-api'), oauth: await seedEveryState(ctx, companyA, 'oauth', '') };
    b = await signIn(ctx.app, 'admin@globex.test');
  });
  afterEach(() => ctx.close());

  /** Every trace of A's credentials a page could carry: Client IDs, public prefixes, revoke links. */
  const tracesOfA = (): string[] => [
    'acme-api',
    ...(['basic', 'oauth'] as const).flatMap((kind) =>
      STATES.flatMap((state) => {
        const c = a[kind][state];
        return [...(kind === 'oauth' ? [c.identifier] : []), c.prefix, `/credentials/${c.id}/revoke"`];
      }),
    ),
  ];

  describe('GET /admin/api as company B', () => {
    it.each([
      ['without script', {}],
      ['with htmx', htmx],
    ])('%s: shows B’s own overlap and none of A’s credentials in any state', async (_name, headers) => {
      const res = await b.get('/admin/api').set(headers);
      expect(res.status).toBe(200);
      expect(tracesOfA().filter((trace) => res.text.includes(trace))).toEqual([]);
      // B's own key and client in their overlap are there: the page does list overlaps.
      expect(res.text).toContain(`${ofB.basic.retiring.prefix}…`);
      expect(res.text).toContain(ofB.oauth.retiring.identifier);
      expect(res.text).toContain('<span class="status status-retiring">Overlap</span>');
    });
  });

  describe('company B’s Save, Generate and Revoke', () => {
    it.each([
      ['without script', {}],
      ['with htmx', htmx],
    ])('%s: never change any of A’s rows', async (_name, headers) => {
      const before = await companyRows(ctx, companyA);
      const key = await generateApiKey(b, 'globex-api', headers);
      expect((await saveCredential(b, 'basic-auth', key.id, '1h', headers)).status).toBeLessThan(400);
      const client = await generateClient(b, undefined, headers);
      expect((await saveCredential(b, 'oauth', client.id, '7d', headers)).status).toBeLessThan(400);
      for (const id of [key.id, ofB.oauth.active.id]) {
        const res = await b.post(`/admin/api/credentials/${id}/revoke`).set(headers).type('form').send({ _csrf: b.csrf, reason: 'Rotating everything' });
        expect(res.status).toBeLessThan(400);
      }
      await generateApiKey(b, 'globex-api', headers);
      await generateClient(b, undefined, headers);
      expect(await companyRows(ctx, companyA)).toEqual(before);
    });

    it('leave A’s key and client in their overlap working (a Save ends only the saving company’s older overlap)', async () => {
      const key = await generateApiKey(b, 'globex-api');
      expect((await saveCredential(b, 'basic-auth', key.id, '1h')).status).toBe(303);
      const client = await generateClient(b);
      expect((await saveCredential(b, 'oauth', client.id, '1h')).status).toBe(303);

      expect(await statusOf(ctx, a.basic.retiring.id)).toBe('retiring');
      expect(await statusOf(ctx, a.oauth.retiring.id)).toBe('retiring');
      expect(await apiKeyWorks(ctx, 'acme-api', a.basic.retiring.secret)).toBe(true);
      expect(await clientWorks(ctx, a.oauth.retiring.identifier, a.oauth.retiring.secret)).toBe(true);
      // B's own older overlaps did end: the one B saved with is the only one left.
      expect(await statusOf(ctx, ofB.basic.retiring.id)).toBe('retired');
      expect(await statusOf(ctx, ofB.oauth.retiring.id)).toBe('retired');
    });

    it('get 404 for each of A’s credentials in every state, and change nothing', async () => {
      const before = await companyRows(ctx, companyA);
      const answers: string[] = [];
      for (const kind of ['basic', 'oauth'] as const) {
        for (const state of STATES) {
          const { id } = a[kind][state];
          const calls = {
            save: () => saveCredential(b, kind === 'basic' ? 'basic-auth' : 'oauth', id, '1h'),
            'revoke confirmation': () => b.get(`/admin/api/credentials/${id}/revoke`),
            revoke: () => b.post(`/admin/api/credentials/${id}/revoke`).type('form').send({ _csrf: b.csrf, reason: 'Not mine' }),
          };
          for (const [what, call] of Object.entries(calls)) {
            const res = await call();
            if (res.status !== 404 || tracesOfA().some((trace) => res.text.includes(trace))) answers.push(`${what} of A's ${state} ${kind}: ${res.status}`);
          }
        }
      }
      expect(answers).toEqual([]);
      expect(await companyRows(ctx, companyA)).toEqual(before);
    });
  });
});
