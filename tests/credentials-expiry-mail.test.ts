import type { Express } from 'express';
import { createApp } from '../src/app';
import { DAY, HOUR, formatUtcMinute } from '../src/clock';
import type { Database } from '../src/db/connect';
import { AuditLog, SYSTEM_ACTOR } from '../src/features/audit/service';
import { generateApiKeyFor, saveCredential, sendExpiryWarnings } from '../src/features/credentials/service';
import type { CredentialsDeps } from '../src/features/credentials/service';
import { OutboxMailer } from '../src/features/mail/service';
import { smtpTransport } from '../src/features/mail/smtp';
import { closeApp } from '../src/lifecycle';
import { createLogger } from '../src/log';
import { TEST_ENGINE, createTestContext, seedCompany, seedUser } from './helpers';
import type { TestContext } from './helpers';
import { TestSmtpServer, header, mimeParts } from './support/smtp';

/**
 * Expiry warnings through a real SMTP server: a key saved with a 30-day lifetime, the fake clock moved
 * across 14, 7 and 1 days before its expiry, each warning mailed once to every administrator of the
 * company, also after a restart and with two replicas.
 */
describe('Expiry warnings by mail', () => {
  const smtp = new TestSmtpServer();
  let ctx: TestContext;
  let apps: Express[];
  let savedAt: number;
  let key: string;
  const logger = createLogger('silent');

  /** One console process: its own mailer (delivering to the test SMTP server) and app, on the given connection. */
  function startProcess(db: Database): CredentialsDeps & { mailer: OutboxMailer } {
    const mailer = new OutboxMailer(db, ctx.clock, logger, smtpTransport(`smtp://127.0.0.1:${smtp.port}`, 'API console <no-reply@console.test>'));
    apps.push(createApp({ config: ctx.config, database: db, clock: ctx.clock, logger, mailer }));
    return { db, clock: ctx.clock, audit: new AuditLog(db, ctx.clock), mailer, publicUrl: ctx.config.publicUrl };
  }

  /** Runs the warnings in a process and waits for its deliveries; returns the messages received meanwhile. */
  async function warn(process: CredentialsDeps & { mailer: OutboxMailer }): Promise<{ to: string[]; subject: string; text: string }[]> {
    const from = smtp.received.length;
    await sendExpiryWarnings(process);
    await process.mailer.deliverDue();
    return smtp.received.slice(from).map((m) => ({ to: m.to, subject: header(m.raw, 'Subject') ?? '', text: mimeParts(m.raw)['text/plain'] ?? '' }));
  }

  const expiresAt = () => savedAt + 30 * DAY;
  const subjects = (mails: { subject: string }[]) => mails.map((m) => m.subject);
  const recipients = (mails: { to: string[] }[]) => mails.flatMap((m) => m.to).sort();

  beforeAll(() => smtp.start());
  afterAll(() => smtp.stop());

  beforeEach(async () => {
    smtp.received = [];
    apps = [];
    ctx = createTestContext();
    const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    await seedUser(ctx, acme.companyId, 'second@acme.test');
    await seedCompany(ctx, 'Other', 'admin@other.test');
    const deps = { db: ctx.database, clock: ctx.clock, audit: new AuditLog(ctx.database, ctx.clock), mailer: { send: () => Promise.resolve(0) } };
    const generated = await generateApiKeyFor(deps, acme.companyId, 'acme-api', SYSTEM_ACTOR);
    key = generated.secret;
    savedAt = ctx.clock.now();
    await saveCredential(deps, acme.companyId, 'basic', generated.credential.id, 'none', SYSTEM_ACTOR, 30);
  });
  afterEach(async () => {
    for (const app of apps) await closeApp(app);
    await ctx.close();
  });

  it('mails every administrator of the company at 14, 7 and 1 days before the expiry, each warning once', async () => {
    const console_ = startProcess(ctx.database);
    ctx.clock.set(expiresAt() - 14 * DAY - 1);
    expect(await warn(console_)).toEqual([]);

    ctx.clock.set(expiresAt() - 14 * DAY);
    const first = await warn(console_);
    expect(recipients(first)).toEqual(['admin@acme.test', 'second@acme.test']);
    expect(subjects(first)).toEqual(['Basic Auth API key of Acme expires in 14 days', 'Basic Auth API key of Acme expires in 14 days']);
    expect(first[0].text).toContain(`The Basic Auth API key acme-api (${key.slice(0, 10)}…) of Acme expires at ${formatUtcMinute(expiresAt())}, in 14 days.`);
    expect(first[0].text).toContain(`${ctx.config.publicUrl}/admin/api`);
    expect(first[0].text).not.toContain(key);
    // The next sweeps, 30 seconds or days later, send it no more.
    ctx.clock.advance(30_000);
    expect(await warn(console_)).toEqual([]);
    ctx.clock.set(expiresAt() - 7 * DAY - 1);
    expect(await warn(console_)).toEqual([]);

    ctx.clock.set(expiresAt() - 7 * DAY);
    expect(subjects(await warn(console_))).toEqual(['Basic Auth API key of Acme expires in 7 days', 'Basic Auth API key of Acme expires in 7 days']);
    expect(await warn(console_)).toEqual([]);

    ctx.clock.set(expiresAt() - DAY);
    const last = await warn(console_);
    expect(subjects(last)).toEqual(['Basic Auth API key of Acme expires in 1 day', 'Basic Auth API key of Acme expires in 1 day']);
    expect(last[0].text).toContain('in 1 day.');
    ctx.clock.set(expiresAt() - HOUR);
    expect(await warn(console_)).toEqual([]);
    ctx.clock.set(expiresAt() + HOUR);
    expect(await warn(console_)).toEqual([]);

    // Recorded: one row per warning, each audited.
    expect(await ctx.column('SELECT days_before FROM credential_expiry_warnings ORDER BY sent_at')).toEqual([14, 7, 1]);
    expect(await ctx.value("SELECT COUNT(*) FROM audit_log WHERE action = 'credential.expiry_warning'")).toBe(3);
    expect(await ctx.value("SELECT COUNT(*) FROM outbox WHERE kind = 'credential_expiring' AND state = 'sent'")).toBe(6);
  });

  it('sends nothing again after a restart: a new app on the same database finds the warning recorded', async () => {
    const before = startProcess(ctx.database);
    ctx.clock.set(expiresAt() - 14 * DAY);
    expect(await warn(before)).toHaveLength(2);
    await closeApp(apps.shift()!);

    const after = startProcess(ctx.database);
    expect(await warn(after)).toEqual([]);
    ctx.clock.set(expiresAt() - 10 * DAY);
    expect(await warn(after)).toEqual([]);
    ctx.clock.set(expiresAt() - 7 * DAY);
    expect(subjects(await warn(after))).toEqual(['Basic Auth API key of Acme expires in 7 days', 'Basic Auth API key of Acme expires in 7 days']);
  });

  it('two replicas warning at the same moment (one after the other on SQLite) send each warning once', async () => {
    const other = ctx.openAnother();
    try {
      const one = startProcess(ctx.database);
      const two = startProcess(other.db);
      ctx.clock.set(expiresAt() - 7 * DAY);
      const from = smtp.received.length;
      // Replicas share PostgreSQL and run at the same moment. A SQLite file has one writer at a time (two
      // connections in one process cannot even interleave), so there the second runs after the first.
      const sent =
        TEST_ENGINE === 'postgres'
          ? await Promise.all([sendExpiryWarnings(one), sendExpiryWarnings(two)])
          : [await sendExpiryWarnings(one), await sendExpiryWarnings(two)];
      expect(sent[0] + sent[1]).toBe(1);
      await Promise.all([one.mailer.deliverDue(), two.mailer.deliverDue()]);
      expect(
        smtp.received
          .slice(from)
          .flatMap((m) => m.to)
          .sort(),
      ).toEqual(['admin@acme.test', 'second@acme.test']);
      expect(await ctx.column('SELECT days_before FROM credential_expiry_warnings')).toEqual([7]);
    } finally {
      for (const app of apps.splice(0)) await closeApp(app);
      await other.close();
    }
  });

  it('after a long pause only the most urgent warning due is sent', async () => {
    const console_ = startProcess(ctx.database);
    ctx.clock.set(expiresAt() - 12 * HOUR);
    expect(subjects(await warn(console_))).toEqual(['Basic Auth API key of Acme expires in 1 day', 'Basic Auth API key of Acme expires in 1 day']);
    expect(await warn(console_)).toEqual([]);
    expect(await ctx.column('SELECT days_before FROM credential_expiry_warnings')).toEqual([1]);
  });
});
