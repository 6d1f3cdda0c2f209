import type { Page } from 'playwright-core';
import type { AxeViolation, Browser, Console } from './support';
import { PASSWORD, clickAndPost, openBrowser, requireChromium, screenshot, seriousViolations, signIn, startConsole } from './support';

jest.setTimeout(120_000);

const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 320, height: 640 };

/** What a page must satisfy in every state: no serious axe findings, labelled controls, intact references, no sideways scroll. */
interface PageReport {
  axe: AxeViolation[];
  unlabelled: string[];
  brokenReferences: string[];
  overflowAt320: number | null;
}

async function inspect(page: Page): Promise<PageReport> {
  const axe = await seriousViolations(page);
  const { unlabelled, brokenReferences } = await page.evaluate(() => {
    const visible = (el: Element) => el.getClientRects().length > 0;
    const controls = Array.from(document.querySelectorAll<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>('input, select, textarea'));
    const unlabelled = controls
      .filter((el) => el.type !== 'hidden' && visible(el))
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
      .map((el) => el.id || el.name || el.outerHTML.slice(0, 80));
    const brokenReferences: string[] = [];
    for (const el of Array.from(document.querySelectorAll('[aria-describedby], [aria-labelledby], label[for]'))) {
      const ids = [el.getAttribute('aria-describedby'), el.getAttribute('aria-labelledby'), el.getAttribute('for')].join(' ').split(/\s+/).filter(Boolean);
      for (const id of ids) if (!document.getElementById(id)) brokenReferences.push(`${el.tagName.toLowerCase()}#${el.id} -> #${id}`);
    }
    return { unlabelled, brokenReferences };
  });
  // Readable at 320 px: the page never scrolls sideways (wide tables scroll inside their own box).
  await page.setViewportSize(PHONE);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  const axeAt320 = await seriousViolations(page); // e.g. a table that scrolls only on a phone must be reachable by keyboard
  await page.setViewportSize(DESKTOP);
  return { axe: [...axe, ...axeAt320.map((v) => ({ ...v, id: `${v.id} at 320 px` }))], unlabelled, brokenReferences, overflowAt320: width > PHONE.width ? width : null };
}

describe('accessibility and layout of every page, with JavaScript enabled', () => {
  let app: Console;
  let browser: Browser;
  let page: Page;
  const operator = 'operator-a11y@example.com';
  const reports: Record<string, PageReport> = {};

  const check = async (state: string) => {
    reports[state] = await inspect(page);
  };
  const goto = (path: string) => page.goto(`${app.base}${path}`);
  const expand = (id: string) => page.locator(`#${id} > summary`).click();

  beforeAll(async () => {
    requireChromium();
    app = await startConsole({ ADMIN_EMAIL: operator, ADMIN_PASSWORD: PASSWORD, COMPANY_NAME: 'Northwind Claims' });
    browser = await openBrowser('js', app.base, DESKTOP);
    page = browser.page;
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('signed out: sign-in (also with errors), the documentation without access, an invalid link, a missing page', async () => {
    await goto('/sign-in');
    await check('sign-in');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#f-email-error:not(:empty)').waitFor();
    await check('sign-in with errors');
    await goto('/docs');
    await check('documentation without access');
    await goto('/setup?token=not-a-token');
    await check('setup link not valid');
    await goto('/no-such-page');
    await check('page not found');
  });

  it('the API page in each state: collapsed, expanded, errors, secrets shown, saved, revoke step', async () => {
    await signIn(page, app.base, operator);
    await check('API page, collapsed');
    for (const id of ['basic-auth', 'oauth', 'docs-access']) await expand(id);
    await check('API page, every area expanded');

    await page.getByLabel('Username', { exact: true }).fill('<script>');
    await clickAndPost(page, () => page.getByRole('button', { name: 'Generate API Key' }).click(), '/basic-auth/generate');
    await page.locator('#f-username-error:not(:empty)').waitFor();
    for (const box of await page.locator('#oauth-area input[name="scopes"]').all()) await box.uncheck();
    await clickAndPost(page, () => page.getByRole('button', { name: 'Generate Client Credentials' }).click(), '/oauth/generate');
    await page.locator('#oauth-scopes-error:not(:empty)').waitFor();
    await check('API page, errors shown');

    await page.getByLabel('Username', { exact: true }).fill('claims-robot');
    await clickAndPost(page, () => page.getByRole('button', { name: 'Generate API Key' }).click(), '/basic-auth/generate');
    await page.locator('#basic-key').waitFor();
    await page.locator('#oauth-area input[name="scopes"]').first().check();
    await clickAndPost(page, () => page.getByRole('button', { name: 'Generate Client Credentials' }).click(), '/oauth/generate');
    await page.locator('#oauth-client-secret').waitFor();
    await check('API page, API key and client credentials shown');
    await page.setViewportSize(PHONE);
    await page.locator('#basic-generated-title').evaluate((title) => title.scrollIntoView());
    await screenshot(page, 'api-mobile.png', false);
    await page.setViewportSize(DESKTOP);

    await clickAndPost(page, () => page.locator('#basic-area').getByRole('button', { name: 'Save' }).click(), '/save');
    await page.getByText('API key saved.').waitFor();
    await clickAndPost(page, () => page.locator('#oauth-area').getByRole('button', { name: 'Save' }).click(), '/save');
    await page.getByText('Client credentials saved.').waitFor();
    await check('API page, both saved');

    await page.getByRole('button', { name: /^Revoke claims-robot/ }).click();
    await page.locator('.revoke-confirm').waitFor();
    await clickAndPost(page, () => page.getByRole('button', { name: 'Revoke now' }).click(), '/revoke');
    await page.locator('.revoke-confirm .error:not(:empty)').waitFor();
    await check('API page, revoke step with an error');
    await page.locator('.revoke-confirm').getByRole('link', { name: 'Cancel' }).click();
    await page.waitForURL(/\/admin\/api\?area=basic/);

    await page.getByRole('button', { name: /^Revoke claims-robot/ }).click();
    await page.locator('.revoke-confirm').waitFor();
    const revokeUrl = await page.locator('.revoke-confirm form').getAttribute('action');
    await goto(revokeUrl!); // the same step as a page of its own (what a browser without script gets)
    await check('revoke confirmation page');
  });

  it('the documentation access area: email step, confirmation, pending; the documentation once granted', async () => {
    await goto('/admin/api');
    await expand('docs-access');
    await page.locator('#docs-access').getByRole('button', { name: 'Request Access' }).click();
    await page.locator('#docs-access').getByLabel('Email', { exact: true }).fill(operator);
    await clickAndPost(page, () => page.locator('#docs-access').getByRole('button', { name: 'Next' }).click(), '/docs-access/next');
    await page.locator('.confirm-email').waitFor();
    await check('documentation access, confirmation step');
    await clickAndPost(page, () => page.locator('#docs-access').getByRole('button', { name: 'Request Access' }).click(), '/docs-access');
    await page.locator('#docs-access .status-pending').waitFor();
    await check('documentation access, pending');
    await goto('/admin/api/docs-access?step=email');
    await check('documentation access, email step as a page');

    await goto('/operator/access-requests');
    await check('operator: access requests, pending');
    await clickAndPost(page, () => page.getByRole('button', { name: `Grant access to ${operator}` }).click(), '/grant');
    await page.getByText(`Access granted to ${operator}.`).waitFor();
    await check('operator: access requests, granted');
    await goto('/docs');
    await page.getByRole('link', { name: 'openapi.json' }).waitFor();
    await check('documentation');
  });

  it('the operator pages and the audit log', async () => {
    for (const [state, path] of [
      ['operator: companies', '/operator/companies'],
      ['operator: credentials', '/operator/credentials'],
      ['operator: scopes', '/operator/scopes'],
      ['operator: signing keys', '/operator/signing-keys'],
      ['operator: outbox', '/operator/outbox'],
      ['audit log', '/audit'],
      ['audit log, filter errors', '/audit?from=2024-13-45'],
    ]) {
      await goto(path);
      await check(state);
    }
    await goto('/operator/companies');
    await page.locator('main table a, main a[href^="/operator/companies/"]').first().click();
    await page.waitForURL(/\/operator\/companies\/\d+$/);
    await check('operator: a company');
    await goto('/operator/outbox');
    await page.locator('#outbox-rows tbody a').first().click();
    await page.waitForURL(/\/operator\/outbox\/\d+$/);
    await check('operator: an outbox message');
    await goto('/operator/credentials');
    await page.locator('main a[href$="/revoke"]').first().click();
    await page.waitForURL(/\/operator\/credentials\/\d+\/revoke$/);
    await check('operator: revoke confirmation');
  });

  it('the API page works from the keyboard alone, with a visible focus, and announces what changed', async () => {
    interface Stop {
      text: string;
      tag: string;
      id: string;
      focusVisible: boolean;
      outline: string;
    }
    const focused = () =>
      page.evaluate((): Stop => {
        const el = document.activeElement as HTMLElement;
        const style = getComputedStyle(el);
        const visible = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
        return {
          text: (el.getAttribute('aria-label') ?? el.textContent ?? '').trim().replace(/\s+/g, ' ').slice(0, 60),
          tag: el.tagName.toLowerCase(),
          id: el.id,
          focusVisible: el.matches(':focus-visible'),
          outline: visible ? `${style.outlineWidth} ${style.outlineStyle}` : 'none',
        };
      });
    const tabUntil = async (matches: (s: Stop) => boolean, limit = 60): Promise<Stop> => {
      for (let i = 0; i < limit; i++) {
        await page.keyboard.press('Tab');
        const stop = await focused();
        if (matches(stop)) return stop;
      }
      throw new Error('Tab never reached the expected element');
    };

    await goto('/admin/api');
    // Every stop of a full Tab cycle through the page shows a visible focus indicator.
    const stops: Stop[] = [];
    for (let i = 0; i < 80; i++) {
      await page.keyboard.press('Tab');
      const stop = await focused();
      if (stop.tag === 'body' || (stops.length && stop.text === stops[0].text && stop.tag === stops[0].tag)) break;
      stops.push(stop);
    }
    expect(stops[0]).toMatchObject({ tag: 'a', text: 'Skip to content' });
    expect(stops.filter((s) => s.tag === 'summary').map((s) => s.text)).toEqual(['Basic Auth', 'OAuth 2.0', 'Request access to the OAuth 2.0 API documentation']);
    expect(stops.filter((s) => !s.focusVisible || s.outline === 'none')).toEqual([]);
    expect(stops.map((s) => s.text)).toEqual(expect.arrayContaining(['API', 'Audit log', 'Sign out']));

    // Operate Basic Auth with the keyboard only: open, type, generate, copy, save.
    await page.locator('body').focus();
    await goto('/admin/api');
    await tabUntil((s) => s.tag === 'summary' && s.text === 'Basic Auth');
    await page.keyboard.press('Enter');
    expect(await page.locator('#basic-auth').evaluate((d) => (d as HTMLDetailsElement).open)).toBe(true);
    await tabUntil((s) => s.id === 'f-username');
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type('keyboard-bot');
    await page.keyboard.press('Enter');
    await page.locator('#basic-key').waitFor();
    expect((await focused()).id).toBe('basic-key'); // focus moves to the new key, nothing to hunt for
    const key = await page.locator('#basic-key').inputValue();
    expect(await tabUntil((s) => s.tag === 'button')).toMatchObject({ text: 'Copy API key', focusVisible: true });
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('copy-status')?.textContent === 'Copied to the clipboard.');
    expect(await page.locator('#copy-status').getAttribute('aria-live')).toBe('polite');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
    // The overlap choice is a radio group: arrow keys move within it, Tab moves on to Save.
    await tabUntil((s) => s.tag === 'input');
    await page.keyboard.press('ArrowDown');
    expect(await page.getByLabel('1 hour').isChecked()).toBe(true);
    expect(await tabUntil((s) => s.tag === 'button')).toMatchObject({ text: 'Save', focusVisible: true });
    await page.keyboard.press('Enter');
    const saved = page.locator('#basic-area [role="status"]');
    await saved.waitFor();
    expect(await saved.innerText()).toBe('API key saved. It is now the active key for your company.');
    expect(await page.locator('#flash').getAttribute('role')).toBe('status');

    // The OAuth 2.0 area opens with Space as well.
    await page.locator('#oauth > summary').focus();
    await page.keyboard.press('Space');
    expect(await page.locator('#oauth').evaluate((d) => (d as HTMLDetailsElement).open)).toBe(true);
  });

  it('finds no serious or critical axe violation, no unlabelled control, no broken reference, no sideways scroll at 320 px', () => {
    expect(Object.keys(reports).length).toBeGreaterThanOrEqual(25);
    const problems = Object.fromEntries(
      Object.entries(reports)
        .map(([state, r]) => [state, { ...r, axe: r.axe.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.targets.join(', ')}`) }] as const)
        .filter(([, r]) => r.axe.length || r.unlabelled.length || r.brokenReferences.length || r.overflowAt320 !== null),
    );
    expect(problems).toEqual({});
  });
});
