import type { Page } from 'playwright-core';
import type { Browser, Console, Mode } from './support';
import { MODES, PASSWORD, ageTheCheck, clickAndPost, copyField, seriousViolations, signedInConsole } from './support';

jest.setTimeout(90_000);

/**
 * Sudo mode in a real browser, with and without JavaScript: a session whose check is 11 minutes old
 * presses Generate API Key, is asked for the password in place, answers it, and the key appears for
 * the username typed first; Save then goes straight through.
 */

describe.each(MODES)('sudo mode with JavaScript %s', (_label, mode: Mode) => {
  let app: Console;
  let browser: Browser;
  let page: Page;
  const email = `admin-${mode}@example.com`;
  const username = `reauth-sync-${mode}`;

  beforeAll(async () => {
    ({ app, browser } = await signedInConsole(mode, email));
    page = browser.page;
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('stale check: Generate asks for the password (accessible, with script), then the key appears for the username typed first; Save works after', async () => {
    await page.goto(`${app.base}/admin/api`);
    await ageTheCheck(app);
    await page.locator('#basic-auth > summary').click();
    await page.getByLabel('Username', { exact: true }).fill(username);

    const asked = await clickAndPost(page, () => page.getByRole('button', { name: 'Generate API Key' }).click(), '/admin/api/basic-auth/generate');
    expect(asked.status()).toBe(401);
    const question = page.locator('section.reauth');
    await question.waitFor();
    expect(await question.getByRole('heading').textContent()).toBe('Confirm it’s you');
    // With script the question sits in the Basic Auth area, on the same page; without, it is a page of its own.
    expect(page.url()).toBe(`${app.base}/admin/api${mode === 'js' ? '' : '/basic-auth/generate'}`);
    expect(await page.locator('#basic-key').count()).toBe(0);
    if (browser.js) expect(await seriousViolations(page)).toEqual([]); // axe runs as page script

    await question.getByLabel('Password', { exact: true }).fill(PASSWORD);
    const answered = await clickAndPost(page, () => question.getByRole('button', { name: 'Confirm and continue' }).click(), '/admin/api/basic-auth/generate');
    expect(answered.status()).toBe(200);
    await page.locator('#basic-key').waitFor();
    expect(await page.locator('#basic-username').inputValue()).toBe(username);
    expect(await copyField(browser, 'basic-key')).toMatch(/^cxk_[0-9A-Za-z]{30,}$/);

    const saved = await clickAndPost(page, () => page.locator('#basic-area').getByRole('button', { name: 'Save' }).click(), '/save');
    expect(saved.status()).toBe(mode === 'js' ? 200 : 303);
    await page.getByText('API key saved. It is now the active key for your company.').waitFor();
    expect(await page.locator('#basic-key').count()).toBe(0);
  });

  it('a wrong password keeps the question, says so, and Generate then goes on with the right one', async () => {
    await page.goto(`${app.base}/admin/api`);
    await ageTheCheck(app);
    await page.locator('#basic-auth > summary').click();
    await page.getByLabel('Username', { exact: true }).fill(`${username}-2`);
    await clickAndPost(page, () => page.getByRole('button', { name: 'Generate API Key' }).click(), '/admin/api/basic-auth/generate');
    const question = page.locator('section.reauth');
    await question.getByLabel('Password', { exact: true }).fill('not my password');
    const wrong = await clickAndPost(page, () => question.getByRole('button', { name: 'Confirm and continue' }).click(), '/admin/api/basic-auth/generate');
    expect(wrong.status()).toBe(401);
    await page.getByText('That is not your password. Nothing was done; try again.').waitFor();
    await page.locator('section.reauth').getByLabel('Password', { exact: true }).fill(PASSWORD);
    await clickAndPost(
      page,
      () => page.locator('section.reauth').getByRole('button', { name: 'Confirm and continue' }).click(),
      '/admin/api/basic-auth/generate',
    );
    await page.locator('#basic-key').waitFor();
    expect(await page.locator('#basic-username').inputValue()).toBe(`${username}-2`);
  });
});
