import type { Page } from 'playwright-core';
import type { Browser, Console } from './support';
import { PASSWORD, openBrowser, requireChromium, signIn, startConsole, webStorage } from './support';

jest.setTimeout(90_000);

/**
 * htmx keeps snapshots of pages it navigates away from (hx-push-url) in the tab's storage. The
 * audit log, the outbox and the access requests must not leave their rows there for the next
 * person at the browser after sign-out.
 */
describe('htmx history after sign-out (JavaScript enabled)', () => {
  let app: Console;
  let browser: Browser;
  let page: Page;
  const operator = 'operator-history@example.com';
  const developer = 'developer-history@example.com';

  beforeAll(async () => {
    requireChromium();
    app = await startConsole({ ADMIN_EMAIL: operator, ADMIN_PASSWORD: PASSWORD });
    browser = await openBrowser('js', app.base);
    page = browser.page;
    await signIn(page, app.base, operator);
    // A request for documentation access, granted: a row on each page (access requests, outbox, audit).
    const csrf = (JSON.parse((await page.locator('body').getAttribute('hx-headers')) ?? '{}') as Record<string, string>)['X-CSRF-Token'];
    expect((await page.request.post(`${app.base}/admin/api/docs-access`, { form: { _csrf: csrf, email: developer }, maxRedirects: 0 })).status()).toBe(303);
    await page.goto(`${app.base}/operator/access-requests`);
    const grant = await page.locator('form[action$="/grant"]').first().getAttribute('action');
    expect((await page.request.post(`${app.base}${grant}`, { form: { _csrf: csrf }, maxRedirects: 0 })).status()).toBe(303);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  /** Filters the page with htmx, which pushes the filtered URL into history (htmx snapshots the page it leaves). */
  async function filterWithHtmx(path: string, select: string, value: string): Promise<void> {
    await page.goto(`${app.base}${path}`);
    expect(await page.locator('main').innerText()).toContain(developer);
    await Promise.all([page.waitForURL((url) => url.pathname === path && url.search !== ''), page.selectOption(select, value)]);
  }

  it('keeps no snapshot of the access requests, outbox and audit pages, and Back shows each page whole', async () => {
    await filterWithHtmx('/operator/access-requests', '#f-status', 'granted');
    await filterWithHtmx('/operator/outbox', '#f-kind', 'access_granted');
    await filterWithHtmx('/audit', '#f-action', 'docs_access.grant');
    expect(await webStorage(page)).not.toContain(developer);

    // Without a snapshot, Back loads the page again from the server: the whole page, not a fragment.
    await page.goBack();
    await page.waitForURL(`${app.base}/audit`);
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    expect(await page.getByRole('navigation', { name: 'Administration' }).count()).toBe(1);
    expect(await page.locator('#audit-rows').count()).toBe(1);
    expect(await page.locator('main').innerText()).toContain(developer);
  });

  it('forgets every history snapshot on sign-out', async () => {
    await page.goto(`${app.base}/audit`);
    // What an htmx snapshot of a page holds (from a page or an htmx version that made one).
    await page.evaluate((email) => {
      const cache = JSON.stringify([{ url: '/audit', content: `<td>${email}</td>`, title: 'Audit log', scroll: 0 }]);
      window.sessionStorage.setItem('htmx-history-cache', cache);
      window.localStorage.setItem('htmx-history-cache', cache);
    }, developer);
    expect(await webStorage(page)).toContain(developer);

    await Promise.all([page.waitForURL(`${app.base}/sign-in`), page.getByRole('button', { name: 'Sign out' }).click()]);
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    const storage = await webStorage(page);
    expect(storage).not.toContain(developer);
    expect(storage).not.toContain('htmx-history-cache');
  });
});
