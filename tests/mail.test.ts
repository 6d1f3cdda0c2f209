import net from 'node:net';
import { Writable } from 'node:stream';
import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../src/app';
import { closeApp } from '../src/lifecycle';
import { createLogger } from '../src/log';
import { insertOutboxMessage } from '../src/features/mail/repo';
import { MAX_ATTEMPTS, OutboxMailer, RETRY_DELAYS_MS, notifyCompanyAdmins } from '../src/features/mail/service';
import { smtpTransport } from '../src/features/mail/smtp';
import { renderMail } from '../src/features/mail/templates';
import { anonymousAgent, createTestContext, csrfFrom, seedCompany, seedUser, signIn } from './helpers';
import type { Agent } from './helpers';
import { TestSmtpServer, header, mimeParts } from './support/smtp';

/** A port on 127.0.0.1 where nothing listens: an SMTP server that is down. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

interface OutboxState {
  state: string;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: number | null;
  text: string;
  sentAt: number | null;
  messageId: string | null;
}

// ------------------------------------------------------------------------------------------

describe('Notifications through SMTP', () => {
  const smtp = new TestSmtpServer();
  const ctx = createTestContext();
  let logs = '';
  const logger = createLogger(
    'debug',
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs += chunk.toString();
        cb();
      },
    }),
  );
  let mailer: OutboxMailer;
  let app: Express;
  let admin: Agent;
  let operator: Agent;

  const outbox = async (to: string): Promise<OutboxState> =>
    (
      await ctx.query<OutboxState>(
        `SELECT state, attempts, last_error AS "lastError", next_attempt_at AS "nextAttemptAt", text_body AS text, sent_at AS "sentAt", message_id AS "messageId"
           FROM outbox WHERE to_address = ? ORDER BY id DESC LIMIT 1`,
        to,
      )
    )[0];
  const outboxId_ = async (to: string): Promise<number> => (await ctx.query<{ id: number }>('SELECT id FROM outbox WHERE to_address = ?', to))[0].id;
  const stateOf = async (id: number): Promise<string> => (await ctx.query<{ state: string }>('SELECT state FROM outbox WHERE id = ?', id))[0].state;

  async function request_(email: string): Promise<number> {
    const res = await admin.post('/admin/api/docs-access').type('form').send({ _csrf: admin.csrf, email });
    expect(res.status).toBe(303);
    return (await ctx.query<{ id: number }>("SELECT id FROM access_requests WHERE email = ? AND status = 'pending'", email))[0].id;
  }

  /** A second app on the test database whose mailer delivers to the given SMTP URL. */
  function appWith(smtpUrl: string): void {
    if (app) void closeApp(app);
    mailer = new OutboxMailer(ctx.database, ctx.clock, logger, smtpTransport(smtpUrl, 'API console <no-reply@console.test>'));
    app = createApp({ config: ctx.config, database: ctx.database, clock: ctx.clock, logger, mailer });
  }

  beforeAll(async () => {
    await smtp.start();
    appWith(`smtp://127.0.0.1:${smtp.port}`);
    await seedCompany(ctx, 'Acme', 'admin@acme.test');
    await seedCompany(ctx, 'Operators', 'ops@console.test', { operator: true });
    admin = await signIn(app, 'admin@acme.test');
    operator = await signIn(app, 'ops@console.test');
  });
  afterAll(async () => {
    await closeApp(app);
    await smtp.stop();
    await ctx.close();
  });
  beforeEach(() => {
    smtp.received = [];
    smtp.refuse = null;
  });

  it('delivers the grant message with its personal link, then keeps no copy of the link', async () => {
    const id = await request_('dev@partner.test');
    const res = await operator.post(`/operator/access-requests/${id}/grant`).type('form').send({ _csrf: operator.csrf, message: 'Enjoy & build.' });
    expect(res.status).toBe(303);
    await mailer.deliverDue();

    expect(smtp.received).toHaveLength(1);
    const [mail] = smtp.received;
    expect(mail.from).toBe('no-reply@console.test');
    expect(mail.to).toEqual(['dev@partner.test']);
    expect(header(mail.raw, 'To')).toBe('dev@partner.test');
    expect(header(mail.raw, 'Subject')).toBe('Your access to the OAuth 2.0 API documentation');
    expect(header(mail.raw, 'Auto-Submitted')).toBe('auto-generated');
    const parts = mimeParts(mail.raw);
    const token = /http:\/\/127\.0\.0\.1:3000\/docs\/access\?token=([A-Za-z0-9_-]{43})/.exec(parts['text/plain'])?.[1];
    expect(token).toBeDefined();
    expect(parts['text/plain']).toContain('Enjoy & build.');
    expect(parts['text/html']).toContain(`href="http://127.0.0.1:3000/docs/access?token=${token}"`);
    expect(parts['text/html']).toContain('Enjoy &amp; build.');

    const row = await outbox('dev@partner.test');
    expect(row).toMatchObject({ state: 'sent', attempts: 1, lastError: null, nextAttemptAt: null, sentAt: ctx.clock.now() });
    expect(row.messageId).toMatch(/^<.+@.+>$/);
    expect(row.text).not.toContain(token!);
    expect(row.text).toContain('/docs/access?token=[removed after delivery]');
    expect(logs).not.toContain(token!);
    expect(logs).toContain('"msg":"mail sent"');

    // The link in the delivered message still opens the documentation (its hash is what is kept).
    const visitor = await anonymousAgent(app);
    expect((await visitor.get(`/docs/access?token=${token}`)).headers.location).toBe('/docs');
    expect((await visitor.get('/docs')).status).toBe(200);
  });

  it('delivers the deny message with the operator’s message and no link', async () => {
    const id = await request_('nope@partner.test');
    await operator
      .post(`/operator/access-requests/${id}/deny`)
      .set('HX-Request', 'true')
      .type('form')
      .send({ _csrf: operator.csrf, message: 'Ask your account manager first.' });
    await mailer.deliverDue();
    expect(smtp.received.map((m) => m.to)).toEqual([['nope@partner.test']]);
    const [mail] = smtp.received;
    expect(header(mail.raw, 'Subject')).toBe('Your request for the OAuth 2.0 API documentation');
    const parts = mimeParts(mail.raw);
    expect(parts['text/plain']).toContain('was not granted');
    expect(parts['text/plain']).toContain('Ask your account manager first.');
    expect(parts['text/plain']).not.toContain('/docs/access');
    expect(parts['text/html']).toContain('Ask your account manager first.');
    expect((await outbox('nope@partner.test')).state).toBe('sent');
  });

  it('keeps a refused message as failed (5xx is final), and sends it again when the operator asks', async () => {
    smtp.refuse = { code: 550, message: '5.1.1 Mailbox unavailable' };
    const id = await request_('refused@partner.test');
    await operator.post(`/operator/access-requests/${id}/grant`).type('form').send({ _csrf: operator.csrf });
    await mailer.deliverDue();

    const failed = await outbox('refused@partner.test');
    expect(failed).toMatchObject({ state: 'failed', attempts: 1, nextAttemptAt: null, sentAt: null });
    expect(failed.lastError).toContain('550');
    expect(failed.text).toMatch(/\/docs\/access\?token=[A-Za-z0-9_-]{43}/); // nothing lost: the message is whole
    expect(smtp.received).toHaveLength(0);

    const list = await operator.get('/operator/outbox?state=failed');
    expect(list.status).toBe(200);
    expect(list.text).toContain('refused@partner.test');
    expect(list.text).toContain('5.1.1 Mailbox unavailable');
    const outboxId = await outboxId_('refused@partner.test');
    const detail = await operator.get(`/operator/outbox/${outboxId}`);
    expect(detail.status).toBe(200);
    expect(detail.headers['cache-control']).toBe('no-store');
    expect(detail.text).toContain('>Send again</button>');

    smtp.refuse = null;
    const retry = await operator.post(`/operator/outbox/${outboxId}/retry`).type('form').send({ _csrf: operator.csrf });
    expect(retry.status).toBe(303);
    expect(retry.headers.location).toBe(`/operator/outbox/${outboxId}`);
    await mailer.deliverDue();
    expect(smtp.received.map((m) => m.to)).toEqual([['refused@partner.test']]);
    expect(await outbox('refused@partner.test')).toMatchObject({ state: 'sent', attempts: 1 });
    expect(await ctx.query("SELECT target FROM audit_log WHERE action = 'mail.retry'")).toEqual([{ target: 'refused@partner.test' }]);
    // A sent message cannot be "sent again".
    const again = await operator.post(`/operator/outbox/${outboxId}/retry`).type('form').send({ _csrf: operator.csrf });
    expect(again.status).toBe(409);
  });

  it('retries a temporary refusal (4xx) with growing waits on the injected clock', async () => {
    smtp.refuse = { code: 451, message: '4.3.0 Try again later' };
    const id = await request_('later@partner.test');
    await operator.post(`/operator/access-requests/${id}/grant`).type('form').send({ _csrf: operator.csrf });
    await mailer.deliverDue();
    const first = await outbox('later@partner.test');
    expect(first).toMatchObject({ state: 'queued', attempts: 1, nextAttemptAt: ctx.clock.now() + RETRY_DELAYS_MS[0] });
    expect(first.lastError).toContain('451');

    await mailer.deliverDue(); // not due yet: no attempt
    expect((await outbox('later@partner.test')).attempts).toBe(1);

    ctx.clock.advance(RETRY_DELAYS_MS[0]);
    await mailer.deliverDue();
    expect(await outbox('later@partner.test')).toMatchObject({ state: 'queued', attempts: 2, nextAttemptAt: ctx.clock.now() + RETRY_DELAYS_MS[1] });

    smtp.refuse = null;
    ctx.clock.advance(RETRY_DELAYS_MS[1]);
    await mailer.deliverDue();
    expect(await outbox('later@partner.test')).toMatchObject({ state: 'sent', attempts: 3, lastError: null });
    expect(smtp.received.map((m) => m.to)).toEqual([['later@partner.test']]);
  });

  it('records every attempt while the server is down, ends as failed, and loses nothing', async () => {
    appWith(`smtp://127.0.0.1:${await closedPort()}`);
    admin = await signIn(app, 'admin@acme.test');
    operator = await signIn(app, 'ops@console.test');
    const id = await request_('down@partner.test');
    await operator.post(`/operator/access-requests/${id}/grant`).type('form').send({ _csrf: operator.csrf });

    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      await mailer.deliverDue();
      const row = await outbox('down@partner.test');
      expect(row.attempts).toBe(attempt);
      expect(row.lastError).toMatch(/ECONNREFUSED|connect/i);
      if (attempt < MAX_ATTEMPTS) {
        expect(row).toMatchObject({ state: 'queued', nextAttemptAt: ctx.clock.now() + RETRY_DELAYS_MS[attempt - 1] });
        ctx.clock.advance(RETRY_DELAYS_MS[attempt - 1]);
      } else {
        expect(row).toMatchObject({ state: 'failed', nextAttemptAt: null });
      }
    }
    expect((await outbox('down@partner.test')).text).toContain('/docs/access?token=');
    expect(logs).toContain('mail delivery failed; kept in the outbox as failed');

    // The server is back: the operator sends it again and it arrives.
    appWith(`smtp://127.0.0.1:${smtp.port}`);
    operator = await signIn(app, 'ops@console.test');
    const outboxId = await outboxId_('down@partner.test');
    expect((await operator.post(`/operator/outbox/${outboxId}/retry`).type('form').send({ _csrf: operator.csrf })).status).toBe(303);
    await mailer.deliverDue();
    expect((await outbox('down@partner.test')).state).toBe('sent');
    expect(smtp.received.map((m) => m.to)).toEqual([['down@partner.test']]);
  });

  it('authenticates with the credentials in SMTP_URL (percent-encoded)', async () => {
    smtp.credentials = { user: 'mailer@console.test', pass: 'p@ss:w/rd' };
    try {
      appWith(`smtp://${encodeURIComponent('mailer@console.test')}:${encodeURIComponent('p@ss:w/rd')}@127.0.0.1:${smtp.port}`);
      const id = await mailer.send({ to: 'auth@partner.test', subject: 'Hello', text: 'Plain text.', kind: 'test', companyId: null });
      await mailer.deliverDue();
      expect(smtp.received.map((m) => m.to)).toEqual([['auth@partner.test']]);
      expect(await stateOf(id)).toBe('sent');
      expect(logs).not.toContain('p@ss:w/rd');
    } finally {
      smtp.credentials = null;
    }
  });

  it('stops delivering on close, leaving queued messages queued for the next start', async () => {
    const id = await mailer.send({ to: 'after-close@partner.test', subject: 'Hello', text: 'Plain text.', kind: 'test', companyId: null });
    await closeApp(app);
    await mailer.deliverDue();
    expect(smtp.received).toHaveLength(0);
    expect(await stateOf(id)).toBe('queued');
    appWith(`smtp://127.0.0.1:${smtp.port}`);
    await mailer.deliverDue();
    expect(await stateOf(id)).toBe('sent');
  });
});

describe('Notifications without SMTP (the outbox)', () => {
  const ctx = createTestContext();
  let operator: Agent;
  let admin: Agent;
  let acmeId: number;

  beforeAll(async () => {
    acmeId = (await seedCompany(ctx, 'Acme', 'admin@acme.test')).companyId;
    await seedUser(ctx, acmeId, 'second@acme.test');
    await seedUser(ctx, acmeId, 'gone@acme.test');
    await ctx.query("UPDATE users SET disabled_at = 1 WHERE email = 'gone@acme.test'");
    await seedCompany(ctx, 'Operators', 'ops@console.test', { operator: true });
    operator = await signIn(ctx.app, 'ops@console.test');
    admin = await signIn(ctx.app, 'admin@acme.test');
  });
  afterAll(() => ctx.close());

  it('keeps the grant message in the outbox, logs it without the link, and lists it for operators', async () => {
    await admin.post('/admin/api/docs-access').type('form').send({ _csrf: admin.csrf, email: 'dev@partner.test' });
    const [{ id }] = await ctx.query<{ id: number }>('SELECT id FROM access_requests');
    await operator.post(`/operator/access-requests/${id}/grant`).type('form').send({ _csrf: operator.csrf });
    const [row] = await ctx.query<{ id: number; state: string; attempts: number; text: string }>(
      "SELECT id, state, attempts, text_body AS text FROM outbox WHERE kind = 'access_granted'",
    );
    expect(row).toMatchObject({ state: 'kept', attempts: 0 });
    const token = /token=([A-Za-z0-9_-]{43})/.exec(row.text)![1];
    expect(ctx.logs()).toContain('mail kept in the outbox (no SMTP_URL)');
    expect(ctx.logs()).toContain('/docs/access?token=[removed after delivery]');
    expect(ctx.logs()).not.toContain(token);

    const list = await operator.get('/operator/outbox');
    expect(list.status).toBe(200);
    expect(list.text).toContain('No SMTP server is configured');
    expect(list.text).toContain(`<a href="/operator/outbox/${row.id}">Your access to the OAuth 2.0 API documentation</a>`);
    expect(list.text).toContain('<span class="status status-mail-kept">kept</span>');

    const rows = await operator.get('/operator/outbox?state=kept&kind=access_granted').set('HX-Request', 'true');
    expect(rows.status).toBe(200);
    expect(rows.text.trim()).toMatch(/^<div id="outbox-rows">/);
    expect(rows.text).toContain('dev@partner.test');

    // The operator reads the message (and its link) to pass it on; no "Send again" without SMTP.
    const detail = await operator.get(`/operator/outbox/${row.id}`);
    expect(detail.status).toBe(200);
    expect(detail.headers['cache-control']).toBe('no-store');
    expect(detail.text).toContain(`token=${token}`);
    expect(detail.text).not.toContain('Send again');
    const retry = await operator.post(`/operator/outbox/${row.id}/retry`).type('form').send({ _csrf: operator.csrf });
    expect(retry.status).toBe(409);
    expect(retry.text).toContain('SMTP_URL is not configured');
  });

  it('rejects a bad filter and hides the Outbox from administrators and visitors', async () => {
    expect((await operator.get('/operator/outbox?state=lost')).status).toBe(422);
    expect((await operator.get('/operator/outbox/99999')).status).toBe(404);
    expect((await admin.get('/operator/outbox')).status).toBe(404);
    expect((await admin.get('/operator/outbox/1')).status).toBe(404);
    expect((await request(ctx.app).get('/operator/outbox')).status).toBe(303);
  });

  it('sends the administrator invitation from its templates (text and HTML)', async () => {
    const page = await operator.get(`/operator/companies/${acmeId}`);
    const res = await operator
      .post(`/operator/companies/${acmeId}/invitations`)
      .type('form')
      .send({ _csrf: csrfFrom(page.text), email: 'new@acme.test' });
    expect(res.status).toBe(201);
    const [mail] = await ctx.query<{ subject: string; text: string; html: string }>(
      "SELECT subject, text_body AS text, html_body AS html FROM outbox WHERE kind = 'invitation'",
    );
    expect(mail.subject).toBe('You are invited to manage API credentials for Acme');
    expect(mail.text).toContain('ops@console.test invited you to administer API credentials for Acme.');
    expect(mail.text).toMatch(/http:\/\/127\.0\.0\.1:3000\/invitation\?token=\S+/);
    expect(mail.html).toMatch(/<a href="http:\/\/127\.0\.0\.1:3000\/invitation\?token=[^"]+"/);
  });

  it('tells every active administrator when a credential is saved or revoked, never with its secret', async () => {
    const secret = 'cxk_SuperSecretValueThatMustNeverAppear000';
    const ids = await notifyCompanyAdmins(
      { db: ctx.database, mailer: new OutboxMailer(ctx.database, ctx.clock, createLogger('silent')) },
      acmeId,
      'credential_saved',
      {
        credentialKind: 'basic',
        identifier: 'claims<bot>',
        secretPrefix: secret.slice(0, 10),
        actor: 'admin@acme.test',
        at: ctx.clock.now(),
        replaced: { identifier: 'claims-bot', secretPrefix: 'cxk_OLDold', retiresAt: null },
        consoleUrl: 'http://127.0.0.1:3000/admin/api',
      },
    );
    expect(ids).toHaveLength(2);
    const mails = await ctx.query<{ to: string; subject: string; text: string; html: string }>(
      `SELECT to_address AS "to", subject, text_body AS text, html_body AS html FROM outbox WHERE kind = 'credential_saved' ORDER BY to_address`,
    );
    expect(mails.map((m) => m.to)).toEqual(['admin@acme.test', 'second@acme.test']);
    expect(mails[0].subject).toBe('New Basic Auth API key saved for Acme');
    expect(mails[0].text).toContain('Username: claims<bot> (the secret starts with cxk_SuperS…)');
    expect(mails[0].text).toContain('stopped working at once');
    expect(mails[0].html).toContain('<code>claims&lt;bot&gt;</code>');
    for (const m of mails) expect(m.text + m.html).not.toContain(secret);

    await notifyCompanyAdmins({ db: ctx.database, mailer: new OutboxMailer(ctx.database, ctx.clock, createLogger('silent')) }, acmeId, 'credential_revoked', {
      credentialKind: 'oauth',
      identifier: 'cxc_client',
      secretPrefix: 'cxs_abcdef',
      actor: 'admin@acme.test',
      at: ctx.clock.now(),
      reason: 'Leaked in a log',
      consoleUrl: null,
    });
    const [revoked] = await ctx.query<{ subject: string; text: string }>(
      "SELECT subject, text_body AS text FROM outbox WHERE kind = 'credential_revoked' LIMIT 1",
    );
    expect(revoked.subject).toBe('OAuth 2.0 client credentials revoked for Acme');
    expect(revoked.text).toContain('Reason: Leaked in a log');
    expect(revoked.text).toContain('need new credentials from the API page.');
  });
});

describe('a credential notice names the credential by its kind', () => {
  const notice = { companyName: 'Acme', identifier: 'the-id', secretPrefix: 'cx_abcdef', actor: 'admin@acme.test', at: 0, consoleUrl: null };

  it.each([
    ['basic', 'Basic Auth API key', 'Username'],
    ['oauth', 'OAuth 2.0 client credentials', 'Client ID'],
  ] as const)('%s: the saved notice says %s and %s, in both parts', (credentialKind, kindLabel, idLabel) => {
    const mail = renderMail('credential_saved', { ...notice, credentialKind, replaced: null });
    expect(mail.subject).toBe(`New ${kindLabel} saved for Acme`);
    expect(mail.text).toContain(
      `admin@acme.test saved new ${kindLabel} for Acme at 1970-01-01 00:00 UTC.\n${idLabel}: the-id (the secret starts with cx_abcdef…)\n`,
    );
    expect(mail.html).toContain(`<p>admin@acme.test saved new <strong>${kindLabel}</strong> for Acme at 1970-01-01 00:00 UTC.</p>`);
    expect(mail.html).toContain(`<p>${idLabel}: <code>the-id</code> (the secret starts with <code>cx_abcdef…</code>)</p>`);

    const revoked = renderMail('credential_revoked', { ...notice, credentialKind, reason: null });
    expect(revoked.text).toContain(`admin@acme.test revoked the ${kindLabel} the-id (cx_abcdef…) of Acme at 1970-01-01 00:00 UTC.`);
    expect(revoked.html).toContain(`<p>admin@acme.test revoked the <strong>${kindLabel}</strong> <code>the-id</code> (<code>cx_abcdef…</code>) of Acme at`);
  });
});

describe('the delivery worker', () => {
  it('is started by the app when SMTP_URL is set and delivers on its own', async () => {
    const smtp = new TestSmtpServer();
    await smtp.start();
    const ctx = createTestContext({ SMTP_URL: `smtp://127.0.0.1:${smtp.port}` });
    try {
      await seedCompany(ctx, 'Acme', 'admin@acme.test');
      await seedCompany(ctx, 'Operators', 'ops@console.test', { operator: true });
      const admin = await signIn(ctx.app, 'admin@acme.test');
      const operator = await signIn(ctx.app, 'ops@console.test');
      await admin.post('/admin/api/docs-access').type('form').send({ _csrf: admin.csrf, email: 'dev@partner.test' });
      const [{ id }] = await ctx.query<{ id: number }>('SELECT id FROM access_requests');
      await operator.post(`/operator/access-requests/${id}/grant`).type('form').send({ _csrf: operator.csrf });
      const stateNow = async () => (await ctx.query<{ state: string }>('SELECT state FROM outbox'))[0].state;
      expect(await stateNow()).not.toBe('kept');
      // The app's own mailer delivers after the request's transaction; wait for the server to receive it.
      const deadline = Date.now() + 10_000;
      while ((await stateNow()) !== 'sent') {
        if (Date.now() > deadline) throw new Error('no message within 10 s');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(smtp.received.map((m) => m.to)).toEqual([['dev@partner.test']]);
      const list = await operator.get('/operator/outbox');
      expect(list.text).not.toContain('No SMTP server is configured');
      expect(list.text).toContain('<span class="status status-mail-sent">sent</span>');
    } finally {
      await ctx.close();
      await smtp.stop();
    }
  });
});

describe('GET /operator/outbox', () => {
  const ctx = createTestContext();
  let operator: Agent;

  beforeAll(async () => {
    const acmeId = (await seedCompany(ctx, 'Acme', 'admin@acme.test')).companyId;
    await seedCompany(ctx, 'Operators', 'ops@console.test', { operator: true });
    // 60 failed invitations and one kept notice, a second apart.
    for (let i = 0; i < 61; i++) {
      ctx.clock.advance(1000);
      const failed = i < 60;
      await insertOutboxMessage(ctx.database, {
        companyId: acmeId,
        to: `to${i}@acme.test`,
        subject: `Message ${i}`,
        text: 'x',
        html: null,
        kind: failed ? 'invitation' : 'credential_saved',
        state: failed ? 'failed' : 'kept',
        secrets: [],
        now: ctx.clock.now(),
      });
    }
    operator = await signIn(ctx.app, 'ops@console.test');
  });
  afterAll(() => ctx.close());

  it('pages 50 messages at a time, newest first, keeping the filter in the links', async () => {
    const first = await operator.get('/operator/outbox?state=failed&kind=invitation');
    expect(first.status).toBe(200);
    expect(first.text).toContain('<p>60 messages.</p>');
    expect(first.text).toContain('Page 1 of 2');
    expect(first.text).toContain('Message 59');
    expect(first.text).not.toContain('Message 9<');
    expect(first.text).toContain('href="/operator/outbox?state=failed&amp;kind=invitation&page=2">Older</a>');
    expect(first.text).not.toContain('>Newer</a>');

    const last = await operator.get('/operator/outbox?state=failed&kind=invitation&page=2').set('HX-Request', 'true');
    expect(last.status).toBe(200);
    expect(last.text.trim()).toMatch(/^<div id="outbox-rows">/);
    expect(last.text).toContain('Page 2 of 2');
    expect(last.text).toContain('Message 9<');
    expect(last.text).toContain('href="/operator/outbox?state=failed&amp;kind=invitation&page=1">Newer</a>');
    expect(last.text).not.toContain('>Older</a>');
  });

  it('counts one message in the singular, with no pager', async () => {
    const res = await operator.get('/operator/outbox?state=kept');
    expect(res.status).toBe(200);
    expect(res.text).toContain('<p>1 message.</p>');
    expect(res.text).not.toContain('class="pager"');
  });

  it('lists everything, and says why, when the filter is refused', async () => {
    const res = await operator.get('/operator/outbox?state=lost&page=2');
    expect(res.status).toBe(422);
    expect(res.text).toContain('The filter was not applied: Choose a delivery state from the list.');
    expect(res.text).toContain('<p>61 messages.</p>');
    expect(res.text).toContain('Page 1 of 2');
    expect(res.text).toContain('href="/operator/outbox?page=2">Older</a>');
  });
});
