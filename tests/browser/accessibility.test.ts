import type { Page } from 'playwright-core';
import type { Browser, Console } from './support';
import {
  PASSWORD,
  clickAndPost,
  ensureSignedIn,
  expandArea,
  generateApiKeyOnPage,
  generateClientOnPage,
  grantDocsAccess,
  openBrowser,
  requestDocsAccess,
  requireChromium,
  saveGenerated,
  screenshot,
  seriousViolations,
  startConsole,
} from './support';

jest.setTimeout(120_000);

const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 320, height: 640 };

/** What a page must satisfy in every state: no serious axe findings (at 1280 and 320 px), labelled controls, intact references. */
interface PageReport {
  axe: string[];
  unlabelled: string[];
  brokenReferences: string[];
}

async function inspect(page: Page): Promise<PageReport> {
  const axeAt = async (size: typeof DESKTOP) => {
    await page.setViewportSize(size);
    return (await seriousViolations(page)).map((v) => `${v.id} (${v.impact}) at ${size.width} px: ${v.help} at ${v.targets.join(', ')}`);
  };
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
  // At 320 px tables show their rows as blocks: axe checks that layout as well.
  const axe = [...(await axeAt(DESKTOP)), ...(await axeAt(PHONE))];
  await page.setViewportSize(DESKTOP);
  return { axe, unlabelled, brokenReferences };
}

describe('accessibility of every page, with JavaScript enabled', () => {
  let app: Console;
  let browser: Browser;
  let page: Page;
  const operator = 'operator-a11y@example.com';
  let made = 0;
  /** A name or address no earlier step used: each state makes what it needs, even when it runs alone. */
  const fresh = (prefix: string) => `${prefix}-${++made}`;

  const goto = (path: string) => page.goto(`${app.base}${path}`);
  const signedIn = () => ensureSignedIn(page, app.base, operator);
  const signedOut = () => browser.context.clearCookies();

  /** A saved API key; returns its username. */
  const savedApiKey = async () => {
    const username = fresh('claims-robot');
    await generateApiKeyOnPage(page, username);
    await saveGenerated(page, 'basic');
    return username;
  };

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

  type State = [string, () => Promise<unknown>];
  /** A page that only needs the right session. */
  const pageAt = (path: string, session: () => Promise<unknown>) => async () => {
    await session();
    await goto(path);
  };

  /** Each page in each state, and how to bring it there from any state of the browser. */
  const STATES: State[] = [
    ...(
      [
        ['sign-in', '/sign-in'],
        ['documentation without access', '/docs'],
        ['setup link not valid', '/setup?token=not-a-token'],
        ['page not found', '/no-such-page'],
      ] as const
    ).map(([state, path]): State => [state, pageAt(path, signedOut)]),
    [
      'sign-in with errors',
      async () => {
        await signedOut();
        await goto('/sign-in');
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await page.locator('#f-email-error:not(:empty)').waitFor();
      },
    ],
    ['API page, collapsed', () => signedIn()],
    ['passkeys page, none yet', pageAt('/account/passkeys', signedIn)],
    [
      'API page, every area expanded',
      async () => {
        await signedIn();
        for (const id of ['basic-auth', 'oauth', 'docs-access']) await expandArea(page, id);
      },
    ],
    [
      'API page, errors shown',
      async () => {
        await signedIn();
        await expandArea(page, 'basic-auth');
        await page.getByLabel('Username', { exact: true }).fill('<script>');
        await clickAndPost(page, () => page.getByRole('button', { name: 'Generate API Key' }).click(), '/basic-auth/generate');
        await page.locator('#f-username-error:not(:empty)').waitFor();
        await expandArea(page, 'oauth');
        for (const box of await page.locator('#oauth-area input[name="scopes"]').all()) await box.uncheck();
        await clickAndPost(page, () => page.getByRole('button', { name: 'Generate Client Credentials' }).click(), '/oauth/generate');
        await page.locator('#oauth-scopes-error:not(:empty)').waitFor();
      },
    ],
    [
      'API page, API key and client credentials shown',
      async () => {
        await signedIn();
        await generateApiKeyOnPage(page, fresh('claims-robot'));
        await generateClientOnPage(page);
      },
    ],
    [
      'API page, both saved',
      async () => {
        await signedIn();
        await savedApiKey();
        await generateClientOnPage(page);
        await saveGenerated(page, 'oauth');
      },
    ],
    [
      'API page, revoke step with an error',
      async () => {
        await signedIn();
        const username = await savedApiKey();
        await page.getByRole('button', { name: new RegExp(`^Revoke ${username} `) }).click();
        await page.locator('.revoke-confirm').waitFor();
        await clickAndPost(page, () => page.getByRole('button', { name: 'Revoke now' }).click(), '/revoke');
        await page.locator('.revoke-confirm .error:not(:empty)').waitFor();
      },
    ],
    [
      'revoke confirmation page',
      async () => {
        await signedIn();
        const username = await savedApiKey();
        const form = page.locator('#basic-area form').filter({ has: page.getByRole('button', { name: new RegExp(`^Revoke ${username} `) }) });
        await goto((await form.getAttribute('action'))!); // the step as a page of its own (what a browser without script gets)
      },
    ],
    [
      'documentation access, confirmation step',
      async () => {
        await signedIn();
        await expandArea(page, 'docs-access');
        const area = page.locator('#docs-access');
        await area.getByRole('button', { name: 'Request Access' }).click();
        await area.getByLabel('Email', { exact: true }).fill(`${fresh('developer')}@example.com`);
        await clickAndPost(page, () => area.getByRole('button', { name: 'Next' }).click(), '/docs-access/next');
        await page.locator('.confirm-email').waitFor();
      },
    ],
    [
      'documentation access, pending',
      async () => {
        await signedIn();
        await requestDocsAccess(page, app.base, `${fresh('developer')}@example.com`);
      },
    ],
    [
      'documentation access, email step as a page',
      async () => {
        await signedIn();
        await goto('/admin/api/docs-access?step=email');
      },
    ],
    [
      'operator: access requests, pending',
      async () => {
        await signedIn();
        await requestDocsAccess(page, app.base, `${fresh('developer')}@example.com`);
        await goto('/operator/access-requests');
      },
    ],
    [
      'operator: access requests, granted',
      async () => {
        await signedIn();
        const email = `${fresh('developer')}@example.com`;
        await requestDocsAccess(page, app.base, email);
        await grantDocsAccess(page, app.base, email);
      },
    ],
    [
      'documentation',
      async () => {
        await signedIn();
        await goto('/docs');
        if (!(await page.getByRole('link', { name: 'openapi.json' }).count())) {
          await requestDocsAccess(page, app.base, operator);
          await grantDocsAccess(page, app.base, operator);
          await goto('/docs');
        }
        await page.getByRole('link', { name: 'openapi.json' }).waitFor();
      },
    ],
    ...(
      [
        ['operator: companies', '/operator/companies'],
        ['operator: credentials', '/operator/credentials'],
        ['operator: scopes', '/operator/scopes'],
        ['operator: signing keys', '/operator/signing-keys'],
        ['operator: outbox', '/operator/outbox'],
        ['audit log', '/audit'],
        ['audit log, filter errors', '/audit?from=2024-13-45'],
      ] as const
    ).map(([state, path]): State => [state, pageAt(path, signedIn)]),
    [
      'operator: a company',
      async () => {
        await signedIn();
        await goto('/operator/companies');
        await page.locator('main a[href^="/operator/companies/"]').first().click();
        await page.waitForURL(/\/operator\/companies\/\d+$/);
      },
    ],
    [
      'operator: an outbox message',
      async () => {
        await signedIn();
        const email = `${fresh('developer')}@example.com`;
        await requestDocsAccess(page, app.base, email);
        await grantDocsAccess(page, app.base, email); // the grant sends a mail
        await goto('/operator/outbox');
        await page.locator('#outbox-rows tbody a').first().click();
        await page.waitForURL(/\/operator\/outbox\/\d+$/);
      },
    ],
    [
      'operator: revoke confirmation',
      async () => {
        await signedIn();
        await savedApiKey();
        await goto('/operator/credentials');
        await page.locator('main a[href$="/revoke"]').first().click();
        await page.waitForURL(/\/operator\/credentials\/\d+\/revoke$/);
      },
    ],
  ];

  it.each(STATES)('%s: no serious or critical axe violation (1280 and 320 px), no unlabelled control, no broken reference', async (_state, open) => {
    await open();
    expect(await inspect(page)).toEqual({ axe: [], unlabelled: [], brokenReferences: [] });
  });

  it('the README screenshot: a new API key on a 320 px phone, its field and copy button in view', async () => {
    await signedIn();
    await generateApiKeyOnPage(page, fresh('claims-robot'));
    await page.setViewportSize(PHONE);
    try {
      await page.locator('#basic-generated-title').evaluate((title) => title.scrollIntoView());
      for (const control of [page.locator('#basic-key'), page.getByRole('button', { name: 'Copy API key' })]) {
        const box = (await control.boundingBox())!;
        expect(box.x).toBeGreaterThanOrEqual(0);
        expect(box.x + box.width).toBeLessThanOrEqual(PHONE.width);
        expect(box.y + box.height).toBeLessThanOrEqual(PHONE.height);
      }
      await screenshot(page, 'api-mobile.png', false);
    } finally {
      await page.setViewportSize(DESKTOP);
    }
  });

  /** The content htmx swaps in names where focus goes ([autofocus]); `field` is the element that must have it. */
  it.each([
    ['the new API key', 'basic-key', () => generateApiKeyOnPage(page, fresh('focus-robot'))],
    ['the new client secret', 'oauth-client-secret', () => generateClientOnPage(page)],
  ])('%s has focus the moment it appears, and a move made right then is not undone', async (_what, field, generate) => {
    await signedIn();
    // Watch the page: when the field is inserted, note where focus is, and move on at once (as a quick Tab would).
    await page.evaluate((id) => {
      const w = window as unknown as { focusWhenShown?: string };
      delete w.focusWhenShown;
      new MutationObserver((_records, observer) => {
        if (!document.getElementById(id)) return;
        observer.disconnect();
        w.focusWhenShown = document.activeElement?.id || document.activeElement?.tagName.toLowerCase();
        document.querySelector<HTMLElement>(`button[data-copy="#${id}"]`)!.focus();
      }).observe(document.body, { childList: true, subtree: true });
    }, field);
    await generate();
    await page.waitForTimeout(300); // well past htmx's settle delay (20 ms), when it used to move focus back
    expect(await page.evaluate(() => (window as unknown as { focusWhenShown?: string }).focusWhenShown)).toBe(field);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-copy'))).toBe(`#${field}`);
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

    await signedIn();
    // Every stop of a full Tab cycle through the page shows a visible focus indicator.
    const stops: Stop[] = [];
    for (let i = 0; i < 80; i++) {
      await page.keyboard.press('Tab');
      const stop = await focused();
      if (stop.tag === 'body' || (stops.length && stop.text === stops[0].text && stop.tag === stops[0].tag)) break;
      stops.push(stop);
    }
    expect(stops[0]).toMatchObject({ tag: 'a', text: 'Skip to content' });
    expect(stops.filter((s) => s.tag === 'summary').map((s) => s.text)).toEqual([
      'Basic Auth',
      'OAuth 2.0',
      'Request access to the OAuth 2.0 API documentation',
    ]);
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
});
