import type { Page } from 'playwright-core';
import type { Browser, Console, Mode } from './support';
import { storedBytesFor } from '../support/postgres';
import {
  MODES,
  apiKeyBasic,
  callMe,
  clickAndPost,
  clientBasic,
  copyField,
  expectSecretGone,
  historyStep,
  pageHtml,
  screenshot,
  seriousViolations,
  signedInConsole,
  webStorage,
} from './support';

jest.setTimeout(90_000);

/** The seed's procedures on the API page, in a real browser, with and without JavaScript. */
describe.each(MODES)('the API page with JavaScript %s', (_label, mode: Mode) => {
  let app: Console;
  let browser: Browser;
  let page: Page;
  const email = `admin-${mode}@example.com`;
  const username = `billing-sync-${mode}`;
  /** Every secret the page showed, saved or not: the last test looks for each in the database and the log. */
  const secrets: string[] = [];

  beforeAll(async () => {
    ({ app, browser } = await signedInConsole(mode, email));
    page = browser.page;
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  const area = (id: 'basic-auth' | 'oauth') => page.locator(`#${id}`);
  const isOpen = (id: 'basic-auth' | 'oauth') => area(id).evaluate((d) => (d as HTMLDetailsElement).open);

  async function openApiPage(): Promise<void> {
    await page.goto(`${app.base}/admin/api`);
  }

  /** Generate API Key; `shot` names the screenshot of the key as it is first shown (with script, for the README). */
  async function generateApiKey(name: string, shot?: string): Promise<string> {
    await area('basic-auth').locator(':scope > summary').click();
    expect(await isOpen('basic-auth')).toBe(true);
    await page.getByLabel('Username', { exact: true }).fill(name);
    const res = await clickAndPost(page, () => page.getByRole('button', { name: 'Generate API Key' }).click(), '/admin/api/basic-auth/generate');
    expect(res.status()).toBe(200);
    expect(res.headers()['cache-control']).toBe('no-store');
    await page.locator('#basic-key').waitFor();
    expect(await page.locator('#basic-username').inputValue()).toBe(name);
    if (shot && browser.js) await screenshot(page, shot);
    const key = await copyField(browser, 'basic-key');
    expect(key).toMatch(/^cxk_[0-9A-Za-z]{30,}$/);
    secrets.push(key);
    // While it is shown, the key is in no web storage (htmx keeps no history snapshot of this page).
    expect(await webStorage(page)).not.toContain(key);
    return key;
  }

  async function save(kind: 'basic' | 'oauth', overlap?: string): Promise<void> {
    const areaBody = page.locator(kind === 'basic' ? '#basic-area' : '#oauth-area');
    if (overlap) await areaBody.getByLabel(overlap).check();
    const res = await clickAndPost(
      page,
      () => areaBody.getByRole('button', { name: 'Save' }).click(),
      `/admin/api/${kind === 'basic' ? 'basic-auth' : 'oauth'}/`,
    );
    expect(res.status()).toBe(browser.js ? 200 : 303);
    const message = kind === 'basic' ? 'API key saved. It is now the active key for your company.' : 'Client credentials saved.';
    await page.getByText(message).first().waitFor();
    if (!browser.js) expect(page.url()).toBe(`${app.base}/admin/api?area=${kind}#${kind === 'basic' ? 'basic-auth' : 'oauth'}`);
  }

  /** A test's own starting point: a new API key for `username`, saved (with the overlap choice's label when given), that works. */
  async function savedApiKey(overlap?: string): Promise<string> {
    await openApiPage();
    const key = await generateApiKey(username);
    await save('basic', overlap);
    expect((await callMe(app.base, apiKeyBasic(username, key))).status).toBe(200);
    return key;
  }

  it('starts with the areas collapsed; the arrow expands Basic Auth; Generate API Key, copy, Save make a key that works', async () => {
    await openApiPage();
    expect(await page.getByRole('link', { name: 'API', exact: true }).getAttribute('aria-current')).toBe('page');
    expect(await isOpen('basic-auth')).toBe(false);
    expect(await isOpen('oauth')).toBe(false);
    expect(await page.getByLabel('Username', { exact: true }).isVisible()).toBe(false);
    if (browser.js) {
      expect(await seriousViolations(page)).toEqual([]);
      await screenshot(page, 'api-collapsed.png');
    }

    const key = await generateApiKey(username, 'api-basic-key-shown.png');
    if (browser.js) expect(await seriousViolations(page)).toEqual([]); // the secret shown, after copying
    if (!browser.js) {
      // Without script the key is a read-only field that keyboard focus selects whole: one Ctrl+C copies it.
      await page.locator('#basic-username').focus();
      await page.keyboard.press('Tab');
      const selection = await page.locator('#basic-key').evaluate((el) => {
        const input = el as HTMLInputElement;
        return { focused: document.activeElement === input, start: input.selectionStart, end: input.selectionEnd, length: input.value.length };
      });
      expect(selection).toEqual({ focused: true, start: 0, end: selection.length, length: key.length });
    }
    // Not saved yet: it does not work.
    expect((await callMe(app.base, apiKeyBasic(username, key))).status).toBe(401);

    await save('basic');
    expect(await pageHtml(page)).not.toContain(key);
    const row = page.locator('#basic-area > .table-scroll > table > tbody > tr').first();
    expect(await row.innerText()).toContain(username);
    expect(await row.innerText()).toContain(`${key.slice(0, 10)}…`);
    expect(await row.innerText()).toContain('Active');

    const me = await callMe(app.base, apiKeyBasic(username, key));
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ company: { name: `Acme ${mode}` }, credential: { kind: 'basic', identifier: username } });

    await expectSecretGone(browser, key);
  });

  it('says what is wrong with a username, next to the field', async () => {
    await openApiPage();
    await area('basic-auth').locator(':scope > summary').click();
    await page.getByLabel('Username', { exact: true }).fill('billing sync');
    const res = await clickAndPost(page, () => page.getByRole('button', { name: 'Generate API Key' }).click(), '/admin/api/basic-auth/generate');
    expect(res.status()).toBe(422);
    const field = page.getByLabel('Username', { exact: true });
    await page.locator('#f-username-error:not(:empty)').waitFor();
    expect(await field.getAttribute('aria-invalid')).toBe('true');
    expect(await field.getAttribute('aria-describedby')).toContain('f-username-error');
    expect(await page.locator('#f-username-error').innerText()).toBe('A username cannot contain spaces. Use a dot, underscore or hyphen instead.');
    // With htmx, focus lands on the field in error, whose description is the message: screen readers read both.
    if (browser.js) expect(await page.evaluate(() => document.activeElement?.id)).toBe('f-username');
    expect(await field.inputValue()).toBe('billing sync');
    if (browser.js) expect(await seriousViolations(page)).toEqual([]);
  });

  it('never shows an unsaved key again, and the unsaved key never works', async () => {
    await openApiPage();
    const key = await generateApiKey(`${username}-draft`);
    // Leave the page, as the help text warns, then come back with Back.
    await page.getByRole('link', { name: 'Audit log', exact: true }).click();
    await page.waitForURL(`${app.base}/audit`);
    expect(await pageHtml(page)).not.toContain(key);
    expect(await historyStep(page, 'back')).not.toContain(key);
    expect(await historyStep(page, 'forward')).not.toContain(key);
    expect(await historyStep(page, 'back')).not.toContain(key);
    expect(await historyStep(page, 'reload')).not.toContain(key);
    await openApiPage(); // Back and Forward may rest on the browser's own error page, which has no storage
    expect(await webStorage(page)).not.toContain(key);
    expect((await callMe(app.base, apiKeyBasic(`${username}-draft`, key))).status).toBe(401);
  });

  it('rotates without overlap: Save ends the previous key at once', async () => {
    const previous = await savedApiKey();
    await openApiPage();
    const key = await generateApiKey(username);
    // The default is the seed's behaviour: the key in use stops working on save.
    expect(await page.getByLabel('None: the previous one stops working when I save').isChecked()).toBe(true);
    await save('basic');
    expect((await callMe(app.base, apiKeyBasic(username, previous))).status).toBe(401);
    expect((await callMe(app.base, apiKeyBasic(username, key))).status).toBe(200);
    expect(await historyStep(page, 'reload')).not.toContain(key);
    expect(await webStorage(page)).not.toContain(key);
  });

  it('rotates with an overlap: the previous key keeps working for the chosen window', async () => {
    const previous = await savedApiKey();
    await openApiPage();
    const key = await generateApiKey(username);
    await save('basic', '1 hour');
    expect((await callMe(app.base, apiKeyBasic(username, previous))).status).toBe(200);
    expect((await callMe(app.base, apiKeyBasic(username, key))).status).toBe(200);
    const rows = await page.locator('#basic-area > .table-scroll > table > tbody > tr').allInnerTexts();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain(`${key.slice(0, 10)}…`);
    expect(rows[0]).toContain('Active');
    expect(rows[1]).toContain(`${previous.slice(0, 10)}…`);
    expect(rows[1]).toMatch(/Overlap\s+works until/);
    expect(await historyStep(page, 'reload')).not.toContain(key);
  });

  it('revokes a key after a confirmation step that asks why; it stops working at once', async () => {
    const inOverlap = await savedApiKey();
    const active = await savedApiKey('1 hour');
    await openApiPage();
    await area('basic-auth').locator(':scope > summary').click();
    await page.getByRole('button', { name: `Revoke ${username} (${active.slice(0, 10)}…)` }).click();
    const confirm = page.locator('.revoke-confirm');
    await confirm.waitFor();
    if (!browser.js) expect(page.url()).toMatch(/\/admin\/api\/credentials\/\d+\/revoke\??$/);
    expect(await confirm.getByRole('heading').innerText()).toBe('Revoke API key?');
    expect((await callMe(app.base, apiKeyBasic(username, active))).status).toBe(200); // nothing happened yet

    let res = await clickAndPost(page, () => confirm.getByRole('button', { name: 'Revoke now' }).click(), '/revoke');
    expect(res.status()).toBe(422);
    const reason = page.getByLabel('Reason', { exact: true });
    await page.locator('.revoke-confirm .error:not(:empty)').waitFor();
    expect(await page.locator('.revoke-confirm .error').innerText()).toBe('Say why you revoke it (at least 3 characters).');
    expect(await reason.getAttribute('aria-invalid')).toBe('true');
    if (browser.js) expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('reason');
    if (browser.js) expect(await seriousViolations(page)).toEqual([]);

    await reason.fill('Laptop with the key was lost');
    res = await clickAndPost(page, () => page.getByRole('button', { name: 'Revoke now' }).click(), '/revoke');
    expect(res.status()).toBe(browser.js ? 200 : 303);
    await page.getByText(`API key for ${username} revoked. It stopped working at once.`).first().waitFor();
    expect((await callMe(app.base, apiKeyBasic(username, active))).status).toBe(401);
    // The key in its overlap was not touched.
    expect((await callMe(app.base, apiKeyBasic(username, inOverlap))).status).toBe(200);
  });

  async function generateClient(shot?: string): Promise<Record<string, string>> {
    await openApiPage();
    await area('oauth').locator(':scope > summary').click();
    expect(await isOpen('oauth')).toBe(true);
    const res = await clickAndPost(page, () => page.getByRole('button', { name: 'Generate Client Credentials' }).click(), '/admin/api/oauth/generate');
    expect(res.status()).toBe(200);
    expect(res.headers()['cache-control']).toBe('no-store');
    await page.locator('#oauth-client-secret').waitFor();
    if (shot && browser.js) await screenshot(page, shot);
    const copied: Record<string, string> = {};
    for (const field of ['grant-type', 'scopes', 'token-url', 'client-id', 'client-secret']) copied[field] = await copyField(browser, `oauth-${field}`);
    secrets.push(copied['client-secret']);
    expect(await webStorage(page)).not.toContain(copied['client-secret']);
    return copied;
  }

  async function requestToken(c: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(c['token-url'], {
      method: 'POST',
      headers: { authorization: clientBasic(c['client-id'], c['client-secret']), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: c['grant-type'], scope: c.scopes }).toString(),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('OAuth 2.0: Generate Client Credentials, copy each field, Save; a token from the copied Token URL works', async () => {
    const c = await generateClient('api-oauth-credentials-shown.png');
    expect(c['grant-type']).toBe('client_credentials');
    expect(c['token-url']).toBe(`${app.base}/oauth/token`);
    expect(c.scopes).toBe('claims:read claims:write documents:read documents:write');
    expect(c['client-id']).toMatch(/^cxc_/);
    expect(c['client-secret']).toMatch(/^cxs_/);
    if (browser.js) expect(await seriousViolations(page)).toEqual([]);
    expect((await requestToken(c)).status).toBe(401); // not saved yet

    await save('oauth');
    expect(await pageHtml(page)).not.toContain(c['client-secret']);
    expect(await page.locator('#oauth-area > .table-scroll > table > tbody > tr').first().innerText()).toContain(c['client-id']); // the Client ID stays visible

    const token = await requestToken(c);
    expect(token.status).toBe(200);
    expect(token.body).toMatchObject({ token_type: 'Bearer', scope: c.scopes });
    const me = await callMe(app.base, `Bearer ${String(token.body.access_token)}`);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ credential: { kind: 'oauth', identifier: c['client-id'] }, scopes: c.scopes.split(' ') });

    await expectSecretGone(browser, c['client-secret']);

    // Rotation without overlap: the new client replaces the old one on save.
    const next = await generateClient();
    await save('oauth');
    expect((await requestToken(c)).status).toBe(401);
    expect((await requestToken(next)).status).toBe(200);
    expect(await historyStep(page, 'reload')).not.toContain(next['client-secret']);
  });

  it('leaves no secret in the database or the server log', async () => {
    // Its own secrets, saved and unsaved, of both kinds; in a run of the whole file, the other tests' too.
    const key = await savedApiKey();
    await openApiPage();
    const unsavedKey = await generateApiKey(`${username}-unsaved`);
    const client = await generateClient();
    await save('oauth');
    const unsavedClient = await generateClient();
    expect(secrets).toEqual(expect.arrayContaining([key, unsavedKey, client['client-secret'], unsavedClient['client-secret']]));
    const stored = storedBytesFor(app.dataDir); // the SQLite file and its WAL, or a dump of the PostgreSQL database
    expect(stored.length).toBeGreaterThan(0);
    // Where these credentials are stored is searched: what the page shows of each is there.
    for (const shown of [key.slice(0, 10), unsavedKey.slice(0, 10), client['client-id'], unsavedClient['client-id']]) expect(stored.includes(shown)).toBe(true);
    const log = app.server.output();
    expect(log).toContain('console listening');
    for (const secret of secrets) {
      expect(stored.includes(secret)).toBe(false);
      expect(log).not.toContain(secret);
    }
  });
});
