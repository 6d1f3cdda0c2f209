import type { Page } from 'playwright-core';
import { codeAt } from '../second-factors-support';
import type { Browser, Console } from './support';
import { MODES, PASSWORD, clickAndPost, openBrowser, requireChromium, screenshot, seriousViolations, signIn, startConsole } from './support';

jest.setTimeout(90_000);

const STEP = 30_000;

/** No serious or critical axe finding on the page as it is now (axe runs as script: with JavaScript enabled only, as in accessibility.test.ts). */
async function expectAccessible(page: Page): Promise<void> {
  expect((await seriousViolations(page)).map((v) => `${v.id}: ${v.help} at ${v.targets.join(', ')}`)).toEqual([]);
}

/**
 * Adding an authenticator app in Chromium, with JavaScript (htmx swaps the panel) and without (plain
 * forms, full pages), then signing in with its codes: each new page checked with axe.
 */
describe.each(MODES)('authenticator app with JavaScript %s', (_label, mode) => {
  let app: Console;
  let browser: Browser;
  let page: Page;
  const email = `operator-${mode}@example.com`;
  const accessible = () => (mode === 'js' ? expectAccessible(page) : Promise.resolve());

  beforeAll(async () => {
    requireChromium();
    app = await startConsole({ ADMIN_EMAIL: email, ADMIN_PASSWORD: PASSWORD, COMPANY_NAME: 'Northwind Claims' });
    browser = await openBrowser(mode, app.base);
    page = browser.page;
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('enrols from the Security page, shows ten recovery codes once, then asks for a code at sign-in (axe finds nothing on each page where script runs)', async () => {
    await signIn(page, app.base, email);
    await page.getByRole('link', { name: 'Security', exact: true }).click();
    await page.waitForURL(`${app.base}/account/security`);
    await accessible();

    const started = await clickAndPost(page, () => page.getByRole('button', { name: 'Add authenticator app' }).click(), '/account/security/totp');
    expect(started.status()).toBe(201);
    // With htmx the panel was swapped in place; without script this is a new page.
    expect(new URL(page.url()).pathname).toBe(mode === 'js' ? '/account/security' : '/account/security/totp');
    await expect(page.locator('#security-panel svg').count()).resolves.toBe(1);
    const secret = (await page.locator('#totp-key').inputValue()).replace(/ /g, '');
    await accessible();
    if (mode === 'js') await screenshot(page, 'second-factor-enrol.png');

    const now = Date.now();
    await page.getByLabel('Name of the app').fill('Work phone');
    await page.getByLabel('Code from the app').fill(codeAt(secret, now));
    const confirmed = await clickAndPost(page, () => page.getByRole('button', { name: 'Add authenticator app' }).click(), '/confirm');
    expect(confirmed.status()).toBe(200);
    await expect(page.locator('.recovery-codes li').count()).resolves.toBe(10);
    await accessible();

    await page.getByRole('link', { name: 'I have kept them: back to Security' }).click();
    await page.waitForURL(`${app.base}/account/security`);
    await expect(page.getByRole('cell', { name: 'Work phone', exact: true }).count()).resolves.toBe(1);
    await expect(page.locator('#totp-key').count()).resolves.toBe(0);

    // Signed out, the password alone leads to the second step; the next step's code signs in.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${app.base}/sign-in`);
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${app.base}/sign-in/second-factor`);
    await accessible();
    const enrolledStep = Math.floor(now / STEP);
    await page.getByLabel('Authenticator code or recovery code').fill(codeAt(secret, (enrolledStep + 1) * STEP));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${app.base}/admin/api`);
  });

  it('shows the operators’ Sign-in security page (axe finds nothing where script runs)', async () => {
    await page.goto(`${app.base}/operator/security`);
    await expect(page.getByRole('heading', { name: 'Sign-in security' }).count()).resolves.toBe(1);
    await accessible();
  });
});
