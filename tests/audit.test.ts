import request from 'supertest';
import { DAY, HOUR } from '../src/clock';
import { AuditLog } from '../src/features/audit/service';
import type { Actor } from '../src/features/audit/service';
import { csvField } from '../src/features/audit/routes';
import { transaction } from '../src/db/connect';
import { createTestContext, seedCompany, signIn, recheckSessions } from './helpers';
import type { Agent, TestContext } from './helpers';

const actor = (label: string): Actor => ({ userId: null, label, ip: '203.0.113.9', userAgent: 'test' });

/** Parses the CSV the export sends (RFC 4180: quoted fields, doubled quotes, CRLF rows). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  if (field || row.length) throw new Error('CSV does not end with CRLF');
  return rows;
}

describe('the audit trail of the foundation', () => {
  let ctx: TestContext;
  beforeEach(() => {
    ctx = createTestContext();
  });
  afterEach(() => ctx.close());

  it('records sign-in, invitation and disable with who, when and from where, and exports them as CSV', async () => {
    const ops = await seedCompany(ctx, 'Operators', 'ops@example.test', { operator: true });
    const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    const operator = await signIn(ctx.app, ops.email);
    ctx.clock.advance(HOUR / 2);
    await recheckSessions(ctx); // the operator answered the password again (sudo mode) before inviting
    await operator
      .post(`/operator/companies/${acme.companyId}/invitations`)
      .set('User-Agent', 'Browser/1.0')
      .type('form')
      .send({ _csrf: operator.csrf, email: 'new@acme.test' });
    ctx.clock.advance(HOUR / 2);
    await operator.post(`/operator/companies/${acme.companyId}/users/${acme.userId}/disable`).type('form').send({ _csrf: operator.csrf });

    const res = await operator.get(`/audit.csv?company=${acme.companyId}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe('attachment; filename="audit-log.csv"');
    expect(res.headers['cache-control']).toBe('no-store');
    const rows = parseCsv(res.text);
    expect(rows[0]).toEqual(['time', 'company', 'actor', 'action', 'target', 'ip', 'user_agent', 'details']);
    expect(rows.slice(1)).toEqual([
      [
        '2026-11-01T10:00:00.000Z',
        'Acme',
        'ops@example.test',
        'user.disable',
        'admin@acme.test',
        expect.stringContaining('127.0.0.1'),
        expect.any(String),
        '{"sessionsEnded":0}',
      ],
      [
        '2026-11-01T09:30:00.000Z',
        'Acme',
        'ops@example.test',
        'user.invite',
        'new@acme.test',
        expect.stringContaining('127.0.0.1'),
        'Browser/1.0',
        '{"operator":false,"resent":false}',
      ],
    ]);

    const all = parseCsv((await operator.get('/audit.csv')).text);
    expect(all.slice(1).map((r) => [r[1], r[3], r[4]])).toEqual([
      ['Acme', 'user.disable', 'admin@acme.test'],
      ['Acme', 'user.invite', 'new@acme.test'],
      ['Operators', 'auth.sign_in', 'ops@example.test'],
    ]);
  });

  it('neutralises formulas and quotes awkward fields in the CSV', async () => {
    const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    const log = new AuditLog(ctx.database, ctx.clock);
    await log.record(actor('=HYPERLINK("http://evil.example","click")'), {
      action: 'test.formula',
      companyId: acme.companyId,
      target: '+1+1',
      details: { note: '-2, "quoted"\nnext line' },
    });
    await log.record(actor('@SUM(A1:A9)'), { action: 'test.formula', companyId: acme.companyId, target: '\t=cmd' });
    const agent = await signIn(ctx.app, 'admin@acme.test');

    const res = await agent.get('/audit.csv?action=test');
    const rows = parseCsv(res.text);
    expect(rows).toHaveLength(3);
    for (const row of rows.slice(1)) {
      for (const field of row) expect(field).not.toMatch(/^[=+\-@\t\r]/);
    }
    expect(rows[2][2]).toBe('\'=HYPERLINK("http://evil.example","click")');
    expect(rows[2][4]).toBe("'+1+1");
    expect(rows[2][7]).toBe('{"note":"-2, \\"quoted\\"\\nnext line"}');
    expect(rows[1][2]).toBe("'@SUM(A1:A9)");
    expect(rows[1][4]).toBe("'\t=cmd");
  });

  it('exports more entries than one batch, each once, newest first, ties broken by id', async () => {
    const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    // 1,201 entries, three to a millisecond: the export reads 500 at a time and must continue exactly after each batch.
    const rows = Array.from({ length: 1201 }, (_, i) => ({
      at: ctx.clock.now() - 10_000 + Math.floor(i / 3),
      company_id: acme.companyId,
      actor: 'admin@acme.test',
      action: 'test.bulk',
      target: `bulk-${String(i).padStart(4, '0')}`,
    }));
    await ctx.database.insertInto('audit_log').values(rows).execute();
    const agent = await signIn(ctx.app, 'admin@acme.test');

    const exported = parseCsv((await agent.get('/audit.csv?action=test.bulk')).text).slice(1);
    expect(exported.map((r) => r[4])).toEqual(rows.map((r) => r.target).reverse());
  });

  it('rolls an entry recorded in a transaction back with it', async () => {
    const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    const log = new AuditLog(ctx.database, ctx.clock);
    await expect(
      transaction(ctx.database, async (trx) => {
        await log.record(actor('admin@acme.test'), { action: 'test.rolled_back', companyId: acme.companyId }, trx);
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    await transaction(ctx.database, (trx) => log.record(actor('admin@acme.test'), { action: 'test.committed', companyId: acme.companyId }, trx));
    expect(await ctx.query("SELECT action FROM audit_log WHERE action LIKE 'test.%'")).toEqual([{ action: 'test.committed' }]);
  });

  it.each([
    ['=1+1', "'=1+1"],
    ['-5', "'-5"],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    [null, ''],
    [42, '42'],
  ])('csvField(%j) is %j', (value, expected) => {
    expect(csvField(value)).toBe(expected);
  });
});

describe('GET /audit', () => {
  let ctx: TestContext;
  let acme: Awaited<ReturnType<typeof seedCompany>>;
  let globex: Awaited<ReturnType<typeof seedCompany>>;
  let admin: Agent;
  const start = Date.UTC(2026, 10, 1, 9, 0, 0);

  beforeEach(async () => {
    ctx = createTestContext();
    await seedCompany(ctx, 'Operators', 'ops@example.test', { operator: true });
    acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    globex = await seedCompany(ctx, 'Globex', 'admin@globex.test');
    const log = new AuditLog(ctx.database, ctx.clock);
    // Acme: credential events on 3 days; Globex: one event.
    ctx.clock.set(start - 2 * DAY);
    await log.record(actor('admin@acme.test'), { action: 'credential.generate', companyId: acme.companyId, target: 'day-1' });
    ctx.clock.set(start - DAY);
    await log.record(actor('admin@acme.test'), { action: 'credential.save', companyId: acme.companyId, target: 'day-2' });
    await log.record(actor('admin@globex.test'), { action: 'credential.save', companyId: globex.companyId, target: 'globex-thing' });
    ctx.clock.set(start);
    admin = await signIn(ctx.app, 'admin@acme.test');
  });
  afterEach(() => ctx.close());

  /** The Target column of each row, in order. */
  const targets = (html: string): string[] =>
    [...html.matchAll(/<td data-label="Action"><code>[a-z_.]+<\/code><\/td>\s*<td data-label="Target">([^<]*)<\/td>/g)].map((m) => m[1]);

  it('shows an administrator their company’s entries, newest first', async () => {
    const res = await admin.get('/audit');
    expect(res.status).toBe(200);
    expect(res.headers.vary).toMatch(/HX-Request/);
    expect(res.text).toContain('<h1>Audit log</h1>');
    expect(res.text).toContain('3 entries.');
    expect(targets(res.text)).toEqual(['admin@acme.test', 'day-2', 'day-1']);
    expect(res.text).not.toContain('globex');
    expect(res.text).not.toContain('id="f-company"');
  });

  it('filters by action, or by a family of actions', async () => {
    const exact = await admin.get('/audit?action=credential.save');
    expect(exact.status).toBe(200);
    expect(targets(exact.text)).toEqual(['day-2']);
    expect(exact.text).toContain('<option value="credential.save" selected>');

    const family = await admin.get('/audit?action=credential');
    expect(targets(family.text)).toEqual(['day-2', 'day-1']);
  });

  it('filters by day, both ends included', async () => {
    const res = await admin.get('/audit?from=2026-10-30&to=2026-10-31');
    expect(res.status).toBe(200);
    expect(targets(res.text)).toEqual(['day-2', 'day-1']);
    expect(res.text).toContain('value="2026-10-30"');

    expect(targets((await admin.get('/audit?from=2026-10-31')).text)).toEqual(['admin@acme.test', 'day-2']);
    expect(targets((await admin.get('/audit?to=2026-10-30')).text)).toEqual(['day-1']);
  });

  it.each([
    ['from=yesterday', 'Use a date like 2026-01-31.'],
    ['to=2026-02-30', 'That is not a real date.'],
    ['from=2026-11-02&to=2026-11-01', 'The “To” date cannot be before the “From” date.'],
    ['action=DROP%20TABLE', 'Choose an action from the list.'],
    ['page=0', 'There is no such page.'],
  ])('answers a bad filter (%s) with 422 and a kind message, with and without htmx', async (query, message) => {
    const page = await admin.get(`/audit?${query}`);
    expect(page.status).toBe(422);
    expect(page.text).toContain('<h1>Audit log</h1>');
    expect(page.text).toContain(message);

    const fragment = await admin.get(`/audit?${query}`).set('HX-Request', 'true');
    expect(fragment.status).toBe(422);
    expect(fragment.text.trim()).toMatch(/^<div id="audit-rows">/);
    expect(fragment.text).toContain(message);
  });

  it('refuses to export with a bad filter rather than export everything', async () => {
    const res = await admin.get('/audit.csv?from=yesterday');
    expect(res.status).toBe(400);
    expect(res.text).toContain('from: Use a date like 2026-01-31.');
  });

  it('answers htmx with the rows fragment only', async () => {
    const res = await admin.get('/audit?action=credential.save').set('HX-Request', 'true');
    expect(res.status).toBe(200);
    expect(res.headers.vary).toMatch(/HX-Request/);
    expect(res.text.trim()).toMatch(/^<div id="audit-rows">/);
    expect(res.text).not.toContain('<html');
    expect(targets(res.text)).toEqual(['day-2']);
    expect(res.text).toContain('href="/audit.csv?action=credential.save"');
  });

  it('lets an operator see every company and filter by one', async () => {
    const operator = await signIn(ctx.app, 'ops@example.test');
    const all = await operator.get('/audit?action=credential');
    expect(targets(all.text)).toEqual(['globex-thing', 'day-2', 'day-1']);
    expect(all.text).toContain('id="f-company"');

    const one = await operator.get(`/audit?action=credential&company=${globex.companyId}`);
    expect(targets(one.text)).toEqual(['globex-thing']);
    expect(one.text).toContain(`<option value="${globex.companyId}" selected>Globex</option>`);
  });

  it('pages 50 entries at a time, keeping the filter in the links', async () => {
    const log = new AuditLog(ctx.database, ctx.clock);
    for (let i = 0; i < 120; i++) {
      ctx.clock.advance(1000);
      await log.record(actor('admin@acme.test'), { action: 'test.bulk', companyId: acme.companyId, target: `bulk-${String(i).padStart(3, '0')}` });
    }
    const rowsOf = (html: string) => [...html.matchAll(/<td data-label="Target">(bulk-\d{3})<\/td>/g)].map((m) => m[1]);

    const first = await admin.get('/audit?action=test.bulk');
    expect(first.text).toContain('120 entries.');
    expect(first.text).toContain('Page 1 of 3');
    expect(rowsOf(first.text)).toHaveLength(50);
    expect(rowsOf(first.text)[0]).toBe('bulk-119');
    expect(first.text).toContain('href="/audit?action=test.bulk&page=2">Older</a>');
    expect(first.text).not.toContain('>Newer</a>');

    const last = await admin.get('/audit?action=test.bulk&page=3');
    expect(last.text).toContain('Page 3 of 3');
    expect(rowsOf(last.text)).toEqual(Array.from({ length: 20 }, (_, i) => `bulk-${String(19 - i).padStart(3, '0')}`));
    expect(last.text).toContain('href="/audit?action=test.bulk&page=2">Newer</a>');

    const beyond = await admin.get('/audit?action=test.bulk&page=99');
    expect(beyond.status).toBe(200);
    expect(beyond.text).toContain('Page 3 of 3');
  });

  it('escapes hostile values in the table', async () => {
    await new AuditLog(ctx.database, ctx.clock).record(actor('<img src=x onerror=alert(1)>'), {
      action: 'test.hostile',
      companyId: acme.companyId,
      target: '"><script>alert(1)</script>',
    });
    const res = await admin.get('/audit?action=test.hostile');
    expect(res.status).toBe(200);
    expect(res.text).not.toContain('<img src=x');
    expect(res.text).not.toContain('<script>alert');
    expect(res.text).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('sends a visitor to sign in', async () => {
    for (const path of ['/audit', '/audit.csv']) {
      const res = await request(ctx.app).get(path);
      expect(res.status).toBe(303);
      expect(res.headers.location).toMatch(/^\/sign-in\?next=/);
    }
  });
});
