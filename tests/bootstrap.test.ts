import { Writable } from 'node:stream';
import request from 'supertest';
import { bootstrap } from '../src/bootstrap';
import { createLogger } from '../src/log';
import { countUsers } from '../src/features/auth/repo';
import { anonymousAgent, createTestContext, csrfFrom, seedCompany, queryValue, queryColumn } from './helpers';
import type { TestContext } from './helpers';

const PASSWORD = 'a first operator password';

function capturingLogger() {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { logger: createLogger('info', sink), text: () => text };
}

const auditActions = (ctx: TestContext): Promise<unknown[]> => queryColumn(ctx, 'SELECT action FROM audit_log ORDER BY id');

describe('bootstrap with ADMIN_EMAIL and ADMIN_PASSWORD', () => {
  let ctx: TestContext;
  beforeEach(() => {
    ctx = createTestContext({ ADMIN_EMAIL: 'Ops@Example.com', ADMIN_PASSWORD: PASSWORD, COMPANY_NAME: 'Example Ltd' });
  });
  afterEach(() => ctx.close());

  it('creates the first operator and company once, then leaves the database alone', async () => {
    const log = capturingLogger();
    await expect(bootstrap(ctx.config, ctx.database, ctx.clock, log.logger)).resolves.toEqual({ kind: 'created', email: 'ops@example.com' });

    const user = await ctx.query('SELECT u.email, u.is_operator AS "isOperator", c.name AS company FROM users u JOIN companies c ON c.id = u.company_id');
    expect(user).toEqual([{ email: 'ops@example.com', isOperator: 1, company: 'Example Ltd' }]);
    expect(await queryValue(ctx, 'SELECT COUNT(*) FROM company_scopes')).toBe(4);
    expect(await auditActions(ctx)).toEqual(['setup.first_operator']);
    expect(log.text()).toContain('first operator created');
    expect(log.text()).not.toContain(PASSWORD);

    await expect(bootstrap(ctx.config, ctx.database, ctx.clock, log.logger)).resolves.toEqual({ kind: 'ready' });
    expect(await countUsers(ctx.database)).toBe(1);
  });

  it('lets the operator sign in with the configured password', async () => {
    await bootstrap(ctx.config, ctx.database, ctx.clock, capturingLogger().logger);
    const agent = await anonymousAgent(ctx.app);
    const res = await agent.post('/sign-in').type('form').send({ _csrf: agent.csrf, email: 'ops@example.com', password: PASSWORD });
    expect(res.status).toBe(303);
    const companies = await agent.get('/operator/companies');
    expect(companies.status).toBe(200);
    expect(companies.text).toContain('Example Ltd');
  });

  it('does nothing when users exist already', async () => {
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
    await expect(bootstrap(ctx.config, ctx.database, ctx.clock, capturingLogger().logger)).resolves.toEqual({ kind: 'ready' });
    expect(await queryColumn(ctx, 'SELECT email FROM users')).toEqual(['admin@acme.test']);
  });
});

describe('bootstrap without ADMIN_EMAIL: the one-time setup link', () => {
  let ctx: TestContext;
  let link: string;
  let log: ReturnType<typeof capturingLogger>;
  beforeEach(async () => {
    ctx = createTestContext();
    log = capturingLogger();
    const result = await bootstrap(ctx.config, ctx.database, ctx.clock, log.logger);
    if (result.kind !== 'setup') throw new Error(`expected a setup link, got ${result.kind}`);
    link = result.link;
  });
  afterEach(() => ctx.close());

  const pathOf = (url: string) => url.slice(ctx.config.publicUrl.length);

  it('prints the link to the log and creates nobody', async () => {
    expect(link).toMatch(/^http:\/\/127\.0\.0\.1:3000\/setup\?token=[A-Za-z0-9_-]{32}$/);
    expect(log.text()).toContain(link);
    expect(await countUsers(ctx.database)).toBe(0);
    // Only the token's digest is kept.
    const token = new URL(link).searchParams.get('token') as string;
    expect(JSON.stringify(await ctx.query('SELECT * FROM settings'))).not.toContain(token);
  });

  it('shows the setup form, creates the first operator, signs them in, then refuses the link', async () => {
    const agent = request.agent(ctx.app);
    const form = await agent.get(pathOf(link));
    expect(form.status).toBe(200);
    expect(form.text).toContain('Set up the console');

    const res = await agent
      .post('/setup')
      .type('form')
      .send({
        _csrf: csrfFrom(form.text),
        token: new URL(link).searchParams.get('token'),
        companyName: 'Example Ltd',
        email: 'Ops@Example.com',
        password: PASSWORD,
        confirm: PASSWORD,
      });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/');

    const companies = await agent.get('/operator/companies');
    expect(companies.status).toBe(200);
    expect(companies.text).toContain('The console is set up. Welcome!');
    expect(companies.text).toContain('ops@example.com · Example Ltd · operator');
    expect(await auditActions(ctx)).toEqual(['setup.first_operator']);

    const again = await request(ctx.app).get(pathOf(link));
    expect(again.status).toBe(404);
    expect(again.text).toContain('This setup link is not valid');

    const secondTry = await anonymousAgent(ctx.app);
    const reuse = await secondTry
      .post('/setup')
      .type('form')
      .send({
        _csrf: secondTry.csrf,
        token: new URL(link).searchParams.get('token'),
        companyName: 'Hijack',
        email: 'evil@example.com',
        password: PASSWORD,
        confirm: PASSWORD,
      });
    expect(reuse.status).toBe(404);
    expect(await countUsers(ctx.database)).toBe(1);
  });

  it('re-renders the form with kind messages and the typed values, keeping the link valid', async () => {
    const agent = request.agent(ctx.app);
    const form = await agent.get(pathOf(link));
    const res = await agent
      .post('/setup')
      .type('form')
      .send({
        _csrf: csrfFrom(form.text),
        token: new URL(link).searchParams.get('token'),
        companyName: 'Example Ltd',
        email: 'not an email',
        password: 'short',
        confirm: 'other',
      });
    expect(res.status).toBe(422);
    expect(res.text).toContain('Enter an email address like name@example.com.');
    expect(res.text).toContain('Use at least 12 characters.');
    expect(res.text).toContain('value="Example Ltd"');
    expect(res.text).not.toContain('value="short"');
    expect(await countUsers(ctx.database)).toBe(0);
    expect((await request(ctx.app).get(pathOf(link))).status).toBe(200);
  });

  it('refuses a password over 72 bytes with a clear message instead of cutting it short', async () => {
    const agent = request.agent(ctx.app);
    const form = await agent.get(pathOf(link));
    const long = 'ü'.repeat(37); // 37 characters, 74 bytes
    const res = await agent
      .post('/setup')
      .type('form')
      .send({
        _csrf: csrfFrom(form.text),
        token: new URL(link).searchParams.get('token'),
        companyName: 'Example Ltd',
        email: 'ops@example.com',
        password: long,
        confirm: long,
      });
    expect(res.status).toBe(422);
    expect(res.text).toContain('Use at most 72 bytes');
    expect(await countUsers(ctx.database)).toBe(0);
  });

  it('refuses a wrong or missing token with a kind page', async () => {
    for (const path of ['/setup?token=wrong', '/setup']) {
      const res = await request(ctx.app).get(path);
      expect(res.status).toBe(404);
      expect(res.text).toContain('This setup link is not valid');
    }
  });

  it('issues a new link on the next start and the old one stops working', async () => {
    const second = await bootstrap(ctx.config, ctx.database, ctx.clock, log.logger);
    expect(second.kind).toBe('setup');
    expect((await request(ctx.app).get(pathOf(link))).status).toBe(404);
    if (second.kind === 'setup') expect((await request(ctx.app).get(pathOf(second.link))).status).toBe(200);
  });
});
