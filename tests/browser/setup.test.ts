import type { Page } from 'playwright-core';
import type { Browser, Console, Mode } from './support';
import { MODES, PASSWORD, clickAndPost, openBrowser, requireChromium, seriousViolations, startConsole } from './support';

jest.setTimeout(60_000);

/** The link the server prints to its log on a first start without ADMIN_EMAIL. */
async function setupLink(app: Console): Promise<string> {
  const pattern = /http:\/\/127\.0\.0\.1:\d+\/setup\?token=[A-Za-z0-9_-]+/;
  for (let waited = 0; waited < 5_000; waited += 50) {
    const found = pattern.exec(app.server.output());
    if (found) return found[0];
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no setup link in the server log:\n${app.server.output()}`);
}

describe.each(MODES)('first start and sign-in with JavaScript %s', (_label, mode: Mode) => {
  let app: Console;
  let browser: Browser;
  let page: Page;
  const email = `founder-${mode}@example.com`;

  beforeAll(async () => {
    requireChromium();
    app = await startConsole(); // no ADMIN_EMAIL: the server prints a one-time setup link
    browser = await openBrowser(mode, app.base);
    page = browser.page;
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  const axeClean = async () => {
    if (browser.js) expect(await seriousViolations(page)).toEqual([]);
  };

  it('creates the first operator through the one-time setup link from the log', async () => {
    const link = await setupLink(app);
    expect(link.startsWith(`${app.base}/setup?token=`)).toBe(true);
    await page.goto(link);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Set up the console');
    expect(await page.getByLabel('Company name', { exact: true }).inputValue()).toBe('Default company');
    await axeClean();

    await page.getByLabel('Company name', { exact: true }).fill(`Founders ${mode}`);
    await page.getByLabel('Your email', { exact: true }).fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Password again', { exact: true }).fill(`${PASSWORD} typo`);
    let res = await clickAndPost(page, () => page.getByRole('button', { name: 'Create operator' }).click(), '/setup');
    expect(res.status()).toBe(422);
    const confirm = page.getByLabel('Password again', { exact: true });
    expect(await confirm.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#f-confirm-error').innerText()).toBe('The two passwords are not the same.');
    expect(await page.getByLabel('Your email', { exact: true }).inputValue()).toBe(email); // what was typed is kept
    expect(await page.getByLabel('Password', { exact: true }).inputValue()).toBe(''); // passwords are not sent back
    await axeClean();

    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await confirm.fill(PASSWORD);
    res = await clickAndPost(page, () => page.getByRole('button', { name: 'Create operator' }).click(), '/setup');
    expect(res.status()).toBe(303);
    await page.waitForURL(`${app.base}/admin/api`);
    expect(await page.locator('#flash[role="status"]').innerText()).toBe('The console is set up. Welcome!');
    expect(await page.locator('header .who').innerText()).toContain(`${email} · Founders ${mode} · operator`);
    expect(await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Access requests' }).isVisible()).toBe(true);
  });

  it('the setup link works once', async () => {
    await page.goto(await setupLink(app));
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Setup link not valid');
    expect(await page.locator('main').innerText()).toContain('the console may be set up already');
  });

  it('signs out, refuses a wrong password with a clear message, and signs in', async () => {
    await page.goto(`${app.base}/admin/api`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${app.base}/sign-in`);
    await axeClean(); // signed out

    await page.goto(`${app.base}/admin/api`); // signed out, the console asks to sign in first
    expect(new URL(page.url()).pathname).toBe('/sign-in');

    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Password', { exact: true }).fill('not the password');
    const res = await clickAndPost(page, () => page.getByRole('button', { name: 'Sign in', exact: true }).click(), '/sign-in');
    expect(res.status()).toBe(401);
    expect(await page.getByRole('alert').innerText()).toBe('That email and password do not match an active account.');
    expect(await page.getByLabel('Email', { exact: true }).inputValue()).toBe(email);
    await axeClean(); // errors shown

    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${app.base}/admin/api`);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('API');
  });
});
