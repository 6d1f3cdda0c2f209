import request from 'supertest';
import { HOUR, MINUTE } from '../src/clock';
import { sweepCredentials } from '../src/features/credentials/service';
import { AuditLog } from '../src/features/audit/service';
import { createTestContext, mistyped, seedCompany, signIn, recheckSessions } from './helpers';
import type { Agent, TestContext } from './helpers';
import { apiKeyWorks as authenticates, generateApiKey, htmx, saveCredential } from './credentials-helpers';

async function auditActions(ctx: TestContext, companyId: number): Promise<{ action: string; target: string; details: string | null }[]> {
  return ctx.query('SELECT action, target, details FROM audit_log WHERE company_id = ? AND action LIKE ? ORDER BY id', companyId, 'credential.%');
}

describe('Basic Auth keys: Save, rotation, overlap, revoke', () => {
  let ctx: TestContext;
  let agent: Agent;
  let companyId: number;

  beforeEach(async () => {
    ctx = createTestContext();
    ({ companyId } = await seedCompany(ctx, 'Acme', 'admin@acme.test'));
    agent = await signIn(ctx.app, 'admin@acme.test');
  });
  afterEach(() => ctx.close());

  it('an unsaved key never authenticates; a saved key does', async () => {
    const { id, key } = await generateApiKey(agent, 'acme-api');
    expect(await authenticates(ctx, 'acme-api', key)).toBe(false);
    ctx.clock.advance(10 * MINUTE);
    await recheckSessions(ctx); // the person answered the password again (sudo mode)
    expect(await authenticates(ctx, 'acme-api', key)).toBe(false);
    expect((await saveCredential(agent, 'basic-auth', id)).status).toBe(303);
    expect(await authenticates(ctx, 'acme-api', key)).toBe(true);
    const me = await request(ctx.app).get('/api/v1/me').auth('acme-api', key);
    expect(me.body).toMatchObject({ company: { id: companyId, name: 'Acme' }, credential: { kind: 'basic', id, identifier: 'acme-api' } });
    // The right key with another username, or a mistyped key, does not.
    expect(await authenticates(ctx, 'other-api', key)).toBe(false);
    expect(await authenticates(ctx, 'acme-api', mistyped(key))).toBe(false);
  });

  it('rotation without overlap: the old key fails at once, the new one works', async () => {
    const first = await generateApiKey(agent, 'acme-api');
    await saveCredential(agent, 'basic-auth', first.id);
    const second = await generateApiKey(agent, 'acme-api');
    // Until the new key is saved, the old one keeps working (generating alone interrupts nothing).
    expect(await authenticates(ctx, 'acme-api', first.key)).toBe(true);
    expect(second.res.text).toContain('keeps working for</legend>');
    const res = await saveCredential(agent, 'basic-auth', second.id, 'none');
    expect(res.status).toBe(303);
    expect(await authenticates(ctx, 'acme-api', first.key)).toBe(false);
    expect(await authenticates(ctx, 'acme-api', second.key)).toBe(true);
    const page = await agent.get('/admin/api');
    expect(page.text).toContain('<span class="status status-retired">Replaced</span>');
  });

  it('rotation with a 1-hour overlap: both work until the window ends, then only the new one', async () => {
    const first = await generateApiKey(agent, 'acme-api');
    await saveCredential(agent, 'basic-auth', first.id);
    const second = await generateApiKey(agent, 'acme-api', htmx);
    const saved = await saveCredential(agent, 'basic-auth', second.id, '1h', htmx);
    expect(saved.status).toBe(200);
    const savedAt = ctx.clock.now();

    // Each key's own last use shows on the page during the overlap.
    ctx.clock.advance(5 * MINUTE);
    await recheckSessions(ctx); // the person answered the password again (sudo mode)
    expect(await authenticates(ctx, 'acme-api', first.key)).toBe(true);
    ctx.clock.advance(5 * MINUTE);
    await recheckSessions(ctx); // the person answered the password again (sudo mode)
    expect(await authenticates(ctx, 'acme-api', second.key)).toBe(true);
    const page = await agent.get('/admin/api');
    expect(page.text).toContain('<span class="status status-active">Active</span>');
    expect(page.text).toContain(`<span class="status status-retiring">Overlap</span> works until <time datetime="${new Date(savedAt + HOUR).toISOString()}">`);
    expect(page.text).toContain(`<time datetime="${new Date(savedAt + 5 * MINUTE).toISOString()}">`);
    expect(page.text).toContain(`<time datetime="${new Date(savedAt + 10 * MINUTE).toISOString()}">`);
    expect(page.text).toContain(`<td data-label="API key"><code>${first.key.slice(0, 10)}…</code></td>`);
    expect(page.text).toContain(`<td data-label="API key"><code>${second.key.slice(0, 10)}…</code></td>`);

    ctx.clock.set(savedAt + HOUR - 1);
    await recheckSessions(ctx); // the person answered the password again (sudo mode)
    expect(await authenticates(ctx, 'acme-api', first.key)).toBe(true);
    ctx.clock.set(savedAt + HOUR);
    await recheckSessions(ctx); // the person answered the password again (sudo mode)
    expect(await authenticates(ctx, 'acme-api', first.key)).toBe(false);
    expect(await authenticates(ctx, 'acme-api', second.key)).toBe(true);

    // The overlap's end retires the old key on its own, and is audited.
    const deps = { db: ctx.database, clock: ctx.clock, audit: new AuditLog(ctx.database, ctx.clock), mailer: { send: () => undefined } as never };
    expect(await sweepCredentials(deps)).toEqual({
      expired: 0,
      retired: 1,
    });
    const actions = (await auditActions(ctx, companyId)).map((a) => a.action);
    expect(actions).toEqual(['credential.generate', 'credential.save', 'credential.generate', 'credential.save', 'credential.overlap_end']);
    const after = await agent.get('/admin/api');
    expect(after.text).not.toContain('status-retiring');
  });

  it('revoke: a confirmation step with a reason, then the key fails at once', async () => {
    const { id, key } = await generateApiKey(agent, 'acme-api');
    await saveCredential(agent, 'basic-auth', id);

    const confirm = await agent.get(`/admin/api/credentials/${id}/revoke`);
    expect(confirm.status).toBe(200);
    expect(confirm.text).toContain('<h1>Revoke credential</h1>');
    expect(confirm.text).toContain('It stops working at once');
    expect(confirm.text).toContain(`action="/admin/api/credentials/${id}/revoke"`);
    expect(confirm.text).not.toContain('hx-post');
    expect(confirm.text).not.toContain(key);
    expect(await authenticates(ctx, 'acme-api', key)).toBe(true); // the first step changes nothing

    const noReason = await agent.post(`/admin/api/credentials/${id}/revoke`).type('form').send({ _csrf: agent.csrf, reason: ' ' });
    expect(noReason.status).toBe(422);
    expect(noReason.text).toContain('Say why you revoke it (at least 3 characters).');
    const tooLong = await agent
      .post(`/admin/api/credentials/${id}/revoke`)
      .type('form')
      .send({ _csrf: agent.csrf, reason: 'x'.repeat(201) });
    expect(tooLong.status).toBe(422);
    expect(tooLong.text).toContain('Keep the reason to 200 characters or fewer.');
    expect(await authenticates(ctx, 'acme-api', key)).toBe(true);

    const res = await agent.post(`/admin/api/credentials/${id}/revoke`).type('form').send({ _csrf: agent.csrf, reason: 'Leaked in a support ticket' });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/admin/api?area=basic#basic-auth');
    expect(await authenticates(ctx, 'acme-api', key)).toBe(false);
    const page = await agent.get(res.headers.location);
    expect(page.text).toContain('API key for acme-api revoked. It stopped working at once.');
    expect(page.text).toContain('<span class="status status-revoked">Revoked</span>');
    expect(page.text).toContain('admin@acme.test: Leaked in a support ticket');

    const again = await agent.post(`/admin/api/credentials/${id}/revoke`).type('form').send({ _csrf: agent.csrf, reason: 'Twice' });
    expect(again.status).toBe(409);
    expect(again.text).toContain('This credential is already revoked.');

    const revoke = (await auditActions(ctx, companyId)).find((a) => a.action === 'credential.revoke');
    expect(revoke).toMatchObject({ target: 'acme-api' });
    expect(JSON.parse(revoke!.details!)).toMatchObject({ kind: 'basic', credentialId: id, reason: 'Leaked in a support ticket' });
    const mail = await ctx.query<{ toAddress: string; subject: string; text: string }>(
      'SELECT to_address AS "toAddress", subject, text_body AS text FROM outbox ORDER BY id',
    );
    expect(mail.map((m) => m.subject)).toEqual(['New Basic Auth API key saved for Acme', 'Basic Auth API key revoked for Acme']);
    expect(mail.every((m) => m.toAddress === 'admin@acme.test' && !m.text.includes(key))).toBe(true);
  });

  it('revoke with htmx: the confirmation swaps into the area, then the area is refreshed', async () => {
    const { id, key } = await generateApiKey(agent, 'acme-api');
    await saveCredential(agent, 'basic-auth', id);
    const page = await agent.get('/admin/api');
    expect(page.text).toContain(`hx-get="/admin/api/credentials/${id}/revoke" hx-target="#revoke-basic" hx-swap="outerHTML"`);

    const confirm = await agent.get(`/admin/api/credentials/${id}/revoke`).set(htmx);
    expect(confirm.status).toBe(200);
    expect(confirm.headers.vary).toContain('HX-Request');
    expect(confirm.text).not.toContain('<html');
    expect(confirm.text.trim()).toMatch(/^<div id="revoke-basic" class="card revoke-confirm">/);
    expect(confirm.text).toContain(`hx-post="/admin/api/credentials/${id}/revoke" hx-target="#revoke-basic"`);

    const bad = await agent.post(`/admin/api/credentials/${id}/revoke`).set(htmx).type('form').send({ _csrf: agent.csrf, reason: 'no' });
    expect(bad.status).toBe(422);
    expect(bad.text.trim()).toMatch(/^<div id="revoke-basic"/);
    expect(bad.text).toContain('The reason needs at least 3 characters.');
    expect(bad.text).toContain('value="no"');

    const res = await agent.post(`/admin/api/credentials/${id}/revoke`).set(htmx).type('form').send({ _csrf: agent.csrf, reason: 'Developer left' });
    expect(res.status).toBe(200);
    expect(res.headers['hx-retarget']).toBe('#basic-area');
    expect(res.headers['hx-reswap']).toBe('outerHTML');
    expect(res.text.trim()).toMatch(/^<div class="area-body" id="basic-area"/);
    expect(res.text).toContain('API key for acme-api revoked. It stopped working at once.');
    expect(await authenticates(ctx, 'acme-api', key)).toBe(false);
  });

  it('revoking the old key during an overlap stops it at once and leaves the new one', async () => {
    const first = await generateApiKey(agent, 'acme-api');
    await saveCredential(agent, 'basic-auth', first.id);
    const second = await generateApiKey(agent, 'acme-api');
    await saveCredential(agent, 'basic-auth', second.id, '7d');
    expect(await authenticates(ctx, 'acme-api', first.key)).toBe(true);
    const res = await agent.post(`/admin/api/credentials/${first.id}/revoke`).type('form').send({ _csrf: agent.csrf, reason: 'Done migrating' });
    expect(res.status).toBe(303);
    expect(await authenticates(ctx, 'acme-api', first.key)).toBe(false);
    expect(await authenticates(ctx, 'acme-api', second.key)).toBe(true);
  });

  it('the save race: of two keys generated from the same state, exactly one is saved', async () => {
    const first = await generateApiKey(agent, 'acme-api');
    await saveCredential(agent, 'basic-auth', first.id);
    const tabA = await generateApiKey(agent, 'acme-api');
    const tabB = await generateApiKey(agent, 'acme-api', htmx);
    const [a, b] = await Promise.all([saveCredential(agent, 'basic-auth', tabA.id), saveCredential(agent, 'basic-auth', tabB.id, undefined, htmx)]);
    const winners = [a, b].filter((r) => r.status === 303 || (r.status === 200 && r.text.includes('API key saved.')));
    const losers = [a, b].filter((r) => r.status === 409);
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(1);
    expect(losers[0].text).toContain('Another key was saved after this one was generated, so this one was not saved.');
    expect(losers[0].text).toContain('Generate API Key</button>');
    const works = [await authenticates(ctx, 'acme-api', tabA.key), await authenticates(ctx, 'acme-api', tabB.key)];
    expect(works.filter(Boolean)).toHaveLength(1);
    expect(await authenticates(ctx, 'acme-api', first.key)).toBe(false);
    const [active] = await ctx.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM credentials WHERE company_id = ? AND kind = 'basic' AND status = 'active'",
      companyId,
    );
    expect(active.n).toBe(1);
  });

  it('a key left unsaved for more than 30 minutes cannot be saved, and the page says so', async () => {
    const { id, key } = await generateApiKey(agent, 'acme-api');
    ctx.clock.advance(30 * MINUTE + 1);
    await recheckSessions(ctx); // the person answered the password again (sudo mode)
    const res = await saveCredential(agent, 'basic-auth', id);
    expect(res.status).toBe(410);
    expect(res.text).toContain('<h1>API</h1>');
    expect(res.text).toContain('This key expired before it was saved; generate a new one.');
    expect(res.text).toContain('action="/admin/api/basic-auth/generate"');
    expect(res.text).toContain('Generate API Key</button>');
    expect(await authenticates(ctx, 'acme-api', key)).toBe(false);

    const htmxGen = await generateApiKey(agent, 'acme-api', htmx);
    ctx.clock.advance(31 * MINUTE);
    await recheckSessions(ctx); // the person answered the password again (sudo mode)
    const late = await saveCredential(agent, 'basic-auth', htmxGen.id, undefined, htmx);
    expect(late.status).toBe(410);
    expect(late.text).not.toContain('<html');
    expect(late.text).toContain('This key expired before it was saved; generate a new one.');
    expect(late.text).toContain('Generate API Key</button>');

    const actions = (await auditActions(ctx, companyId)).map((a) => a.action);
    expect(actions).toEqual(['credential.generate', 'credential.expire', 'credential.generate', 'credential.expire']);
  });

  it('records generate and save in the audit log without the secret', async () => {
    const { id, key } = await generateApiKey(agent, 'acme-api');
    await saveCredential(agent, 'basic-auth', id, 'none');
    const entries = await auditActions(ctx, companyId);
    expect(entries.map((e) => e.action)).toEqual(['credential.generate', 'credential.save']);
    expect(JSON.parse(entries[0].details!)).toEqual({ kind: 'basic', credentialId: id, prefix: key.slice(0, 10) });
    expect(JSON.parse(entries[1].details!)).toMatchObject({ kind: 'basic', credentialId: id, overlap: 'none' });
    expect(entries.some((e) => (e.details ?? '').includes(key))).toBe(false);
    const audit = await agent.get('/audit');
    expect(audit.text).toContain('credential.save');
  });
});
