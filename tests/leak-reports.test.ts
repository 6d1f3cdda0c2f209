import request from 'supertest';
import { MINUTE } from '../src/clock';
import { SYSTEM_ACTOR } from '../src/features/audit/service';
import { setLeakPolicy } from '../src/features/companies/service';
import { sha256 } from '../src/crypto';
import * as credentialsRepo from '../src/features/credentials/repo';
import { generateApiKey as newApiKeyString, publicPrefix } from '../src/features/credentials/secrets';
import { createTestContext, mistyped, seedCompany, signIn } from './helpers';
import { createApiKey, createClient, credentialsDeps, revoke } from './oauth-support';
import { apiKeyWorks, clientWorks } from './credentials-helpers';

const PATH = '/api/v1/credentials/leaked';

describe('POST /api/v1/credentials/leaked', () => {
  const ctx = createTestContext({ TRUST_PROXY: 'loopback' });
  afterAll(() => ctx.close());
  let sources = 0;

  /** Each test reports from its own address, so no test meets another's throttle window. */
  const reporter = () => {
    const source = `198.51.100.${++sources}`;
    const send = (body: unknown, type = 'application/json') =>
      request(ctx.app)
        .post(PATH)
        .set('X-Forwarded-For', source)
        .type(type)
        .send(typeof body === 'string' ? body : JSON.stringify(body));
    return Object.assign(send, { source });
  };

  /** A company of its own with one saved API key, and the leak policy given. */
  const companyWithKey = async (name: string, policy: 'revoke' | 'report' = 'revoke') => {
    const company = await seedCompany(ctx, name, `admin@${name.toLowerCase()}.test`);
    const key = await createApiKey(ctx, company.companyId, `${name.toLowerCase()}-api`);
    if (policy === 'report') await setLeakPolicy({ ...credentialsDeps(ctx), publicUrl: ctx.config.publicUrl }, company.companyId, 'report', SYSTEM_ACTOR);
    return { company, key };
  };

  const auditOf = (credentialId: number) =>
    ctx.query<{ action: string; details: string; ip: string; actor: string }>(
      "SELECT action, details, ip, actor FROM audit_log WHERE action LIKE 'credential.leak%' AND target IN (SELECT identifier FROM credentials WHERE id = ?) ORDER BY id",
      credentialId,
    );
  const mailTo = (to: string) =>
    ctx.query<{ subject: string; text: string; html: string }>(
      "SELECT subject, text_body AS text, html_body AS html FROM outbox WHERE kind = 'credential_leaked' AND to_address = ? ORDER BY id",
      to,
    );

  it('answers every report alike: one of our keys, a mistyped one, a well-formed unknown one, a foreign string', async () => {
    const { key } = await companyWithKey('Alike');
    const send = reporter();
    const answers = [];
    for (const strings of [[key.key], [mistyped(key.key)], [newApiKeyString()], ['ghp_not-ours']]) {
      const res = await send({ credentials: strings });
      answers.push({ status: res.status, body: res.text, type: res.headers['content-type'], cache: res.headers['cache-control'] });
    }
    expect(answers[0]).toEqual({
      status: 202,
      body: JSON.stringify({
        message: 'Thank you. Every credential in this report that this console issued is revoked or reported to its owners, as their policy says.',
      }),
      type: 'application/json; charset=utf-8',
      cache: 'no-store',
    });
    for (const answer of answers.slice(1)) expect(answer).toEqual(answers[0]);
  });

  it('does the same work for strings that are not ours: every one is hashed and looked up, a bad checksum included', async () => {
    const { key } = await companyWithKey('Work');
    const send = reporter();
    const lookups = async (strings: string[]) => {
      const spy = jest.spyOn(credentialsRepo, 'findCredentialsBySecretHashes');
      try {
        expect((await send({ credentials: strings })).status).toBe(202);
        return spy.mock.calls.map(([, digests]) => digests);
      } finally {
        spy.mockRestore();
      }
    };
    // One lookup of every digest, whether the strings are ours, mistyped (bad checksum) or foreign.
    expect(await lookups([key.key, 'x'])).toEqual([[sha256(key.key), sha256('x')]]);
    expect(await lookups([mistyped(key.key), 'x'])).toEqual([[sha256(mistyped(key.key)), sha256('x')]]);
  });

  it('revokes a leaked key and client secret at once (the default policy), audits them and tells the administrators where they were found', async () => {
    const { company, key } = await companyWithKey('Leaky');
    const client = await createClient(ctx, company.companyId, ['claims:read']);
    const send = reporter();
    const res = await send({ credentials: [key.key, client.secret], url: 'https://paste.example/abc' });
    expect(res.status).toBe(202);
    expect(await apiKeyWorks(ctx, key.username, key.key)).toBe(false);
    expect(await clientWorks(ctx, client.clientId, client.secret)).toBe(false);
    const me = await request(ctx.app).get('/api/v1/me').auth(key.username, key.key);
    expect((me.body as { error_description: string }).error_description).toMatch(/^This API key was revoked on /);
    const [entry] = await auditOf(key.credentialId);
    expect(entry).toMatchObject({ action: 'credential.leak_revoke', ip: send.source, actor: 'leak report' });
    expect(JSON.parse(entry.details)).toEqual({
      kind: 'basic',
      credentialId: key.credentialId,
      status: 'active',
      policy: 'revoke',
      url: 'https://paste.example/abc',
    });
    const mails = await mailTo('admin@leaky.test');
    expect(mails.map((m) => m.subject).sort()).toEqual([
      'Basic Auth API key reported as leaked and revoked for Leaky',
      'OAuth 2.0 client credentials reported as leaked and revoked for Leaky',
    ]);
    const basicMail = mails.find((m) => m.subject.startsWith('Basic'))!;
    expect(basicMail.text).toContain(
      `Someone reported the Basic Auth API key leaky-api (${publicPrefix(key.key)}…) of Leaky as leaked at 2026-11-01 09:00 UTC.`,
    );
    expect(basicMail.text).toContain('Where it was found, as the report says: https://paste.example/abc');
    expect(basicMail.text).toContain('it stopped working');
    expect(basicMail.html).toContain('<code>https://paste.example/abc</code>');
    expect(basicMail.text).not.toContain(key.key);
    const admin = await signIn(ctx.app, 'admin@leaky.test');
    expect((await admin.get('/admin/api')).text).toContain('The console: Reported as leaked, found at https://paste.example/abc');
  });

  it('only reports under the report policy: the key keeps working, and the mail says so', async () => {
    const { key } = await companyWithKey('Lenient', 'report');
    expect((await reporter()({ credentials: [key.key] })).status).toBe(202);
    expect(await apiKeyWorks(ctx, key.username, key.key)).toBe(true);
    const [entry] = await auditOf(key.credentialId);
    expect(entry.action).toBe('credential.leak_report');
    const [mail] = await mailTo('admin@lenient.test');
    expect(mail.subject).toBe('Basic Auth API key reported as leaked for Lenient');
    expect(mail.text).toContain('The report did not say where it was found.');
    expect(mail.text).toContain("Your company's policy is to report only: it still works.");
  });

  it('audits a credential that had already stopped working, and mails no one', async () => {
    const { company, key } = await companyWithKey('Ended');
    await revoke(ctx, company.companyId, key.credentialId);
    const before = (await ctx.query("SELECT id FROM outbox WHERE to_address = 'admin@ended.test'")).length;
    expect((await reporter()({ credentials: [key.key] })).status).toBe(202);
    const [entry] = await auditOf(key.credentialId);
    expect(entry.action).toBe('credential.leak_report');
    expect(JSON.parse(entry.details)).toMatchObject({ status: 'revoked' });
    expect((await ctx.query("SELECT id FROM outbox WHERE to_address = 'admin@ended.test'")).length).toBe(before);
  });

  it.each([
    ['no credentials member', { url: 'https://example.com/' }, 'Send "credentials": an array of the strings that were found.'],
    ['an empty list', { credentials: [] }, 'Send at least one string in "credentials".'],
    ['more than 100 strings', { credentials: Array.from({ length: 101 }, (_, i) => `s${i}`) }, 'Send at most 100 strings in "credentials" per report.'],
    ['a number among the strings', { credentials: [42] }, 'Each entry of "credentials" must be a string.'],
    ['an overlong string', { credentials: ['x'.repeat(513)] }, 'An entry of "credentials" is longer than 512 characters: it is none of our credentials.'],
    [
      'a url that is not http(s)',
      { credentials: ['x'], url: 'javascript:alert(1)' },
      '"url" must be an http or https URL (without spaces or control characters).',
    ],
    [
      'a url with a line break',
      { credentials: ['x'], url: 'https://example.com/\nInjected: yes' },
      '"url" must be an http or https URL (without spaces or control characters).',
    ],
    ['an array instead of an object', ['x'], 'Send a JSON object: {"credentials": ["..."], "url": "https://..."}.'],
  ])('refuses %s with 400 and says why', async (_what, body, message) => {
    const res = await reporter()(body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: message });
  });

  it('refuses JSON that does not parse (400), a body that is not JSON (415) and one over 64 KiB (413)', async () => {
    const send = reporter();
    expect((await send('{"credentials": [')).status).toBe(400);
    const form = await send('credentials=x', 'form');
    expect(form.status).toBe(415);
    expect(form.body).toEqual({ error: 'unsupported_media_type', error_description: 'Send the report as JSON, with Content-Type: application/json.' });
    const large = await send({ credentials: ['x'.repeat(70_000)] });
    expect(large.status).toBe(413);
    expect(large.headers['content-type']).toMatch(/^application\/json/);
  });

  it('throttles each source address: the 11th report in a minute waits, others do not, and a minute later it passes', async () => {
    const send = reporter();
    for (let i = 0; i < 10; i++) expect((await send({ credentials: ['x'] })).status).toBe(202);
    const refused = await send({ credentials: ['x'] });
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('60');
    expect(refused.body).toEqual({ error: 'too_many_requests', error_description: 'Too many leak reports from this address. Try again in 60 seconds.' });
    expect((await reporter()({ credentials: ['x'] })).status).toBe(202);
    ctx.clock.advance(MINUTE + 1);
    expect((await send({ credentials: ['x'] })).status).toBe(202);
  });

  it('answers other methods with 405 and Allow: POST', async () => {
    const res = await request(ctx.app).get(PATH);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
  });
});

describe('POST /operator/companies/:id/leak-policy', () => {
  const ctx = createTestContext();
  afterAll(() => ctx.close());

  it('without script: saves the policy, audits the change and shows it on the company page', async () => {
    const acme = await seedCompany(ctx, 'Acme', 'admin@acme.test');
    await seedCompany(ctx, 'Operators', 'ops@console.test', { operator: true });
    const operator = await signIn(ctx.app, 'ops@console.test');
    const res = await operator.post(`/operator/companies/${acme.companyId}/leak-policy`).type('form').send({ _csrf: operator.csrf, policy: 'report' });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(`/operator/companies/${acme.companyId}`);
    const page = await operator.get(res.headers.location);
    expect(page.text).toContain('Leaked credentials will only be reported.');
    expect(page.text).toContain('<input type="radio" name="policy" value="report" checked>');
    expect(await ctx.value('SELECT leak_policy FROM companies WHERE id = ?', acme.companyId)).toBe('report');
    const [entry] = await ctx.query<{ details: string }>("SELECT details FROM audit_log WHERE action = 'company.leak_policy'");
    expect(JSON.parse(entry.details)).toEqual({ before: 'revoke', after: 'report' });
  });

  it('re-renders the page with the message for a policy that is not one of the two', async () => {
    const globex = await seedCompany(ctx, 'Globex', 'admin@globex.test');
    await seedCompany(ctx, 'Ops', 'ops2@console.test', { operator: true });
    const operator = await signIn(ctx.app, 'ops2@console.test');
    const res = await operator.post(`/operator/companies/${globex.companyId}/leak-policy`).type('form').send({ _csrf: operator.csrf, policy: 'ignore' });
    expect(res.status).toBe(422);
    expect(res.text).toContain('Choose what a leak report does: revoke at once, or only tell the administrators.');
    expect(await ctx.value('SELECT leak_policy FROM companies WHERE id = ?', globex.companyId)).toBe('revoke');
  });
});
