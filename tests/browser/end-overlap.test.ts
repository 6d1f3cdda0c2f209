import type { Page } from 'playwright-core';
import type { Browser, Console, Mode } from './support';
import { MODES, apiKeyBasic, callMe, clickAndPost, expandArea, savedApiKeyOnPage, seriousViolations, signedInConsole } from './support';

jest.setTimeout(90_000);

/** End overlap now, in a real browser, with and without JavaScript: the previous key stops before its window ends. */
describe.each(MODES)('End overlap now with JavaScript %s', (_label, mode: Mode) => {
  let app: Console;
  let browser: Browser;
  let page: Page;
  const email = `overlap-${mode}@example.com`;
  const username = `overlap-api-${mode}`;

  beforeAll(async () => {
    ({ app, browser } = await signedInConsole(mode, email, `Overlap ${mode}`));
    page = browser.page;
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('ends the overlap early after a confirmation: the old key stops at once, the new one keeps working', async () => {
    const previous = await savedApiKeyOnPage(browser, app.base, username);
    const current = await savedApiKeyOnPage(browser, app.base, username, '7 days');
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
