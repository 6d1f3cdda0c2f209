import type { Page } from 'playwright-core';
import type { Browser, Console, Mode } from './support';
import {
  MODES,
  PASSWORD,
  apiKeyBasic,
  callMe,
  clickAndPost,
  copyField,
  expandArea,
  generateApiKeyOnPage,
  openBrowser,
  requireChromium,
  saveGenerated,
  seriousViolations,
  signIn,
  startConsole,
} from './support';

jest.setTimeout(90_000);

/** End overlap now, in a real browser, with and without JavaScript: the previous key stops before its window ends. */
describe.each(MODES)('End overlap now with JavaScript %s', (_label, mode: Mode) => {
  let app: Console;
  let browser: Browser;
  let page: Page;
  const email = `overlap-${mode}@example.com`;
  const username = `overlap-api-${mode}`;

  beforeAll(async () => {
    requireChromium();
    app = await startConsole({ ADMIN_EMAIL: email, ADMIN_PASSWORD: PASSWORD, COMPANY_NAME: `Overlap ${mode}` });
    browser = await openBrowser(mode, app.base);
    page = browser.page;
    await signIn(page, app.base, email);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  /** Generates a key on the API page and saves it (with the overlap's label when given); returns the key. */
  async function savedKey(overlap?: string): Promise<string> {
    await page.goto(`${app.base}/admin/api`);
    await generateApiKeyOnPage(page, username);
    const key = await copyField(browser, 'basic-key');
    await saveGenerated(page, 'basic', overlap);
    return key;
  }

  it('ends the overlap early after a confirmation: the old key stops at once, the new one keeps working', async () => {
    const previous = await savedKey();
    const current = await savedKey('7 days');
    expect((await callMe(app.base, apiKeyBasic(username, previous))).status).toBe(200);

    await page.goto(`${app.base}/admin/api`);
    await expandArea(page, 'basic-auth');
    await page.getByRole('button', { name: `End overlap now ${username} (${previous.slice(0, 10)}…)` }).click();
    const confirm = page.locator('.revoke-confirm');
    await confirm.waitFor();
    // Without script the confirmation is a page of its own; with htmx it is swapped into the area.
    if (browser.js) expect(new URL(page.url()).pathname).toBe('/admin/api');
    else expect(page.url()).toMatch(/\/admin\/api\/credentials\/\d+\/end-overlap\??$/);
    expect(await confirm.getByRole('heading').innerText()).toBe('End the overlap now?');
    expect((await callMe(app.base, apiKeyBasic(username, previous))).status).toBe(200); // nothing happened yet
    if (browser.js) expect(await seriousViolations(page)).toEqual([]);

    const res = await clickAndPost(page, () => confirm.getByRole('button', { name: 'End overlap now', exact: true }).click(), '/end-overlap');
    expect(res.status()).toBe(browser.js ? 200 : 303);
    await page
      .getByText(`API key for ${username} (${previous.slice(0, 10)}…) stopped working: its overlap ended now.`)
      .first()
      .waitFor();
    if (!browser.js) expect(new URL(page.url()).pathname).toBe('/admin/api');

    const refused = await callMe(app.base, apiKeyBasic(username, previous));
    expect(refused.status).toBe(401);
    expect(String(refused.body.error_description)).toMatch(/^This API key was replaced on /);
    expect((await callMe(app.base, apiKeyBasic(username, current))).status).toBe(200);
    // The page no longer offers it: the old key is among the ended ones.
    expect(await page.getByRole('button', { name: /^End overlap now/ }).count()).toBe(0);
  });
});
