import type { Page } from 'playwright-core';
import type { Browser, Console, Mode } from './support';
import { MODES, PASSWORD, clickAndPost, openBrowser, requireChromium, screenshot, seriousViolations, signIn, startConsole } from './support';

jest.setTimeout(90_000);

/** Request access to the OAuth 2.0 API documentation, an operator's grant, and the personal link. */
describe.each(MODES)('documentation access with JavaScript %s', (_label, mode: Mode) => {
  let app: Console;
  let browser: Browser;
  let page: Page;
  const operator = `operator-${mode}@example.com`;
  const developer = `developer-${mode}@example.com`;
  let personalLink = '';

  beforeAll(async () => {
    requireChromium();
    app = await startConsole({ ADMIN_EMAIL: operator, ADMIN_PASSWORD: PASSWORD });
    browser = await openBrowser(mode, app.base);
    page = browser.page;
    await signIn(page, app.base, operator);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  const area = () => page.locator('#docs-access');
  const emailField = () => area().getByLabel('Email', { exact: true });

  it('Request Access, Email, Next; Back keeps the address; Request Access leaves a pending request', async () => {
    await page.goto(`${app.base}/admin/api`);
    expect(await area().evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false);
    await area().locator(':scope > summary').click();
    expect(await area().locator(':scope > summary').innerText()).toBe('Request access to the OAuth 2.0 API documentation');

    await area().getByRole('button', { name: 'Request Access' }).click();
    await emailField().waitFor();
    await emailField().fill('not an address');
    let res = await clickAndPost(page, () => area().getByRole('button', { name: 'Next' }).click(), '/admin/api/docs-access/next');
    expect(res.status()).toBe(422);
    await area().locator('#f-email-error:not(:empty)').waitFor();
    expect(await area().locator('#f-email-error').innerText()).toBe('Enter an email address like name@example.com.');
    expect(await emailField().getAttribute('aria-invalid')).toBe('true');
    if (browser.js) {
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('f-email'); // focus goes to the field in error
      expect(await seriousViolations(page)).toEqual([]);
    }

    await emailField().fill(`wrong-${developer}`);
    res = await clickAndPost(page, () => area().getByRole('button', { name: 'Next' }).click(), '/admin/api/docs-access/next');
    expect(res.status()).toBe(200);
    await area().locator('.confirm-email').waitFor();
    expect(await area().locator('.confirm-email').innerText()).toBe(`wrong-${developer}`);

    // Back returns to the field with the value kept, ready to edit.
    res = await clickAndPost(page, () => area().getByRole('button', { name: 'Back' }).click(), '/admin/api/docs-access/back');
    expect(res.status()).toBe(200);
    await emailField().waitFor();
    expect(await emailField().inputValue()).toBe(`wrong-${developer}`);
    await emailField().fill(developer);
    await clickAndPost(page, () => area().getByRole('button', { name: 'Next' }).click(), '/admin/api/docs-access/next');
    await area().locator('.confirm-email').waitFor();
    expect(await area().locator('.confirm-email').innerText()).toBe(developer);

    res = await clickAndPost(page, () => area().getByRole('button', { name: 'Request Access' }).click(), '/admin/api/docs-access');
    expect(res.status()).toBe(browser.js ? 200 : 303);
    const sent = `Request sent for ${developer}. It is pending; you will be notified when you are granted access.`;
    await page.getByText(sent).first().waitFor();
    const row = area().locator('table tbody tr').filter({ hasText: developer });
    expect(await row.locator('.status').innerText()).toBe('Pending');
    expect(await row.innerText()).toContain('Waiting for review');
    if (browser.js) {
      expect(await seriousViolations(page)).toEqual([]);
      await screenshot(page, 'api-access-request-pending.png');
    }

    // The page as it is after a reload keeps showing the request's status.
    await page.goto(`${app.base}/admin/api`);
    await area().locator(':scope > summary').click();
    expect(await area().locator('table tbody tr').filter({ hasText: developer }).locator('.status').innerText()).toBe('Pending');
  });

  it('an operator grants the request on the Access requests page', async () => {
    await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Access requests' }).click();
    await page.waitForURL(`${app.base}/operator/access-requests`);
    const card = page.locator('section.request').filter({ hasText: developer });
    expect(await card.locator('.status').innerText()).toBe('Pending');
    if (browser.js) expect(await seriousViolations(page)).toEqual([]);
    await card.getByLabel('Message (optional)').fill('Start with the token endpoint.');
    const res = await clickAndPost(page, () => card.getByRole('button', { name: `Grant access to ${developer}` }).click(), '/grant');
    expect(res.status()).toBe(browser.js ? 204 : 303); // htmx follows HX-Redirect; a plain form the 303
    await page.getByText(`Access granted to ${developer}. A personal documentation link was sent by email.`).waitFor();
    expect(await page.locator('section.request').filter({ hasText: developer }).locator('.status').innerText()).toBe('Granted');
  });

  it('the Outbox holds the grant email with the personal link', async () => {
    await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Outbox' }).click();
    await page.waitForURL(`${app.base}/operator/outbox`);
    if (browser.js) expect(await seriousViolations(page)).toEqual([]);
    const row = page.locator('#outbox-rows tbody tr').filter({ hasText: developer });
    await row.getByRole('link', { name: 'Your access to the OAuth 2.0 API documentation' }).click();
    await page.waitForURL(/\/operator\/outbox\/\d+$/);
    if (browser.js) expect(await seriousViolations(page)).toEqual([]);
    const text = await page.locator('pre.mail-body').first().innerText();
    expect(text).toContain('Start with the token endpoint.');
    const link = /http:\/\/127\.0\.0\.1:\d+\/docs\/access\?token=[A-Za-z0-9_-]+/.exec(text);
    expect(link).not.toBeNull();
    personalLink = link![0];
    expect(personalLink.startsWith(`${app.base}/docs/access?token=`)).toBe(true);
  });

  it('the personal link opens the documentation in the developer’s own browser', async () => {
    const theirs = await openBrowser(mode, app.base);
    try {
      const docs = theirs.page;
      await docs.goto(`${app.base}/docs`);
      expect(await docs.getByRole('heading', { level: 1 }).innerText()).toBe('OAuth 2.0 API documentation');
      expect(await docs.locator('main').innerText()).toContain('The API documentation is visible to those granted access.');

      await docs.goto(personalLink);
      expect(docs.url()).toBe(`${app.base}/docs`); // the token does not stay in the address bar
      expect(await docs.getByRole('heading', { level: 1 }).innerText()).toBe('OAuth 2.0 API documentation');
      const main = await docs.locator('main').innerText();
      expect(main).toContain(`${app.base}/oauth/token`);
      expect(main).toContain('/api/v1/me');
      await docs.getByRole('link', { name: 'openapi.json' }).waitFor();
      if (theirs.js) expect(await seriousViolations(docs)).toEqual([]);

      // The OpenAPI document itself, with the browser's session cookie.
      const spec = await theirs.context.request.get(`${app.base}/docs/openapi.json`);
      expect(spec.status()).toBe(200);
      expect(((await spec.json()) as { openapi: string }).openapi).toMatch(/^3\.1\./);
    } finally {
      await theirs.close();
    }
  });
});
