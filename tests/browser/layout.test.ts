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
  overflow,
  requestDocsAccess,
  requireChromium,
  saveGenerated,
  screenshot,
  signIn,
  startConsole,
} from './support';

jest.setTimeout(120_000);

/**
 * Every console page fits its window at these widths: nothing scrolls sideways and no element reaches
 * past the right edge (long identifiers wrap, tables stack their cells on narrow screens). The data is
 * made long on purpose: the longest username allowed, long addresses and company names.
 */
const WIDTHS = [1440, 1280, 1024, 768, 320];

const OPERATOR = 'operations.lead@northwind-claims-and-reinsurance.example.com';
const COMPANY = 'Northwind Claims and Reinsurance Holdings, Eastern European Subsidiary';
const USERNAME = 'claims-sync.production.eu-west.billing-and-settlements-robot-01'; // 64 characters, the longest allowed
const INVITED = 'first.middle.lastname-with-a-long-suffix@subsidiary.example-insurance-group.com';
const DEVELOPERS = ['pending.developer.with.a.long.address@northwind-claims-and-reinsurance.example.com'];
/** A company administrator (not an operator): invited, and signed in by accepting the invitation. */
const ADMINISTRATOR = 'integration.administrator.with-a-long-name@subsidiary.example-insurance-group.com';

type Who = 'operator' | 'administrator' | 'signed out' | 'first start';

interface ConsolePage {
  name: string;
  who: Who;
  /** Opens the page and brings it to the state to check. */
  open: (page: Page, base: string) => Promise<unknown>;
}

let companyPath = '';
let outboxMessagePath = '';
let revokePath = '';
let setupPath = '';
let invitationPath = '';

const PAGES: ConsolePage[] = [
  { name: 'sign-in', who: 'signed out', open: (page, base) => page.goto(`${base}/sign-in`) },
  {
    name: 'sign-in with errors',
    who: 'signed out',
    open: async (page, base) => {
      await page.goto(`${base}/sign-in`);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.locator('#f-email-error:not(:empty)').waitFor();
    },
  },
  { name: 'setup', who: 'first start', open: (page, base) => page.goto(`${base}${setupPath}`) },
  { name: 'setup link not valid', who: 'signed out', open: (page, base) => page.goto(`${base}/setup?token=not-a-token`) },
  { name: 'documentation without access', who: 'signed out', open: (page, base) => page.goto(`${base}/docs`) },
  { name: 'page not found', who: 'signed out', open: (page, base) => page.goto(`${base}/no-such-page`) },
  {
    name: 'documentation link not valid',
    who: 'signed out',
    open: async (page, base) => {
      await page.goto(`${base}/docs/access?token=not-a-token`);
      await page.getByText('This documentation link is not valid.').waitFor();
    },
  },
  {
    name: 'invitation: choose your password',
    who: 'signed out',
    open: async (page, base) => {
      await page.goto(`${base}${invitationPath}`);
      await page.getByText(INVITED).waitFor();
    },
  },
  {
    name: 'API page of an administrator with every area open',
    who: 'administrator',
    open: async (page, base) => {
      await page.goto(`${base}/admin/api`);
      for (const id of ['basic-auth', 'oauth', 'docs-access']) await expandArea(page, id);
    },
  },
  { name: 'audit log of an administrator', who: 'administrator', open: (page, base) => page.goto(`${base}/audit`) },
  {
    name: 'page not found, signed in: an operator page asked for by an administrator',
    who: 'administrator',
    open: async (page, base) => {
      await page.goto(`${base}/operator/companies`); // 404, not 403: an administrator learns nothing about operator pages
      await page.getByRole('heading', { name: 'Not found' }).waitFor();
    },
  },
  {
    name: 'API page with every area and history open: credentials active, in overlap, replaced, revoked; requests pending and granted',
    who: 'operator',
    open: async (page, base) => {
      await page.goto(`${base}/admin/api`);
      for (const id of ['basic-auth', 'oauth', 'docs-access']) await expandArea(page, id);
      for (const history of await page.locator('details.history > summary').all()) await history.click();
    },
  },
  {
    name: 'API page with a new API key and new client credentials shown, and the overlap choice',
    who: 'operator',
    open: async (page, base) => {
      await page.goto(`${base}/admin/api`);
      await generateApiKeyOnPage(page, USERNAME);
      await generateClientOnPage(page);
    },
  },
  {
    name: 'API page with the revoke step open and its error',
    who: 'operator',
    open: async (page, base) => {
      await page.goto(`${base}/admin/api`);
      await expandArea(page, 'oauth');
      await page
        .locator('#oauth-area')
        .getByRole('button', { name: /^Revoke / })
        .first()
        .click();
      await page.locator('.revoke-confirm').waitFor();
      await clickAndPost(page, () => page.getByRole('button', { name: 'Revoke now' }).click(), '/revoke');
      await page.locator('.revoke-confirm .error:not(:empty)').waitFor();
    },
  },
  { name: 'revoke confirmation page', who: 'operator', open: (page, base) => page.goto(`${base}${revokePath}`) },
  { name: 'documentation access, email step as a page', who: 'operator', open: (page, base) => page.goto(`${base}/admin/api/docs-access?step=email`) },
  { name: 'companies', who: 'operator', open: (page, base) => page.goto(`${base}/operator/companies`) },
  { name: 'a company with its administrators and a new invitation link', who: 'operator', open: (page, base) => page.goto(`${base}${companyPath}`) },
  { name: 'credentials of every company', who: 'operator', open: (page, base) => page.goto(`${base}/operator/credentials`) },
  { name: 'scopes', who: 'operator', open: (page, base) => page.goto(`${base}/operator/scopes`) },
  { name: 'signing keys', who: 'operator', open: (page, base) => page.goto(`${base}/operator/signing-keys`) },
  { name: 'audit log', who: 'operator', open: (page, base) => page.goto(`${base}/audit`) },
  { name: 'audit log with filter errors', who: 'operator', open: (page, base) => page.goto(`${base}/audit?from=2024-13-45`) },
  { name: 'outbox', who: 'operator', open: (page, base) => page.goto(`${base}/operator/outbox`) },
  { name: 'an outbox message with a long link', who: 'operator', open: (page, base) => page.goto(`${base}${outboxMessagePath}`) },
  { name: 'access requests review', who: 'operator', open: (page, base) => page.goto(`${base}/operator/access-requests`) },
  { name: 'documentation', who: 'operator', open: (page, base) => page.goto(`${base}/docs`) },
];

const CASES = PAGES.flatMap((p) => WIDTHS.map((width) => [p.name, width, p] as const));

describe('every console page fits its window', () => {
  let app: Console;
  let fresh: Console;
  const browsers = {} as Record<Who, Browser>;

  /** The credentials in every state, a company with long names, an invitation, documentation requests. */
  async function makeData(page: Page): Promise<void> {
    const base = app.base;
    await signIn(page, base, OPERATOR);
    for (const kind of ['basic', 'oauth'] as const) {
      const generate = () => (kind === 'basic' ? generateApiKeyOnPage(page, USERNAME) : generateClientOnPage(page));
      await generate();
      await saveGenerated(page, kind); // the first: replaced by the second
      await generate();
      await saveGenerated(page, kind);
      const area = page.locator(kind === 'basic' ? '#basic-area' : '#oauth-area');
      await area
        .getByRole('button', { name: /^Revoke / })
        .first()
        .click();
      await page.getByLabel('Reason', { exact: true }).fill('Rotated after a laptop with the old one was lost on a train');
      await clickAndPost(page, () => page.getByRole('button', { name: 'Revoke now' }).click(), '/revoke');
      await page
        .getByText(/revoked\. It stopped working at once\./)
        .first()
        .waitFor();
      await generate();
      await saveGenerated(page, kind);
      await generate();
      await saveGenerated(page, kind, '7 days'); // the previous one stays in its overlap
    }
    await page.goto(`${base}/admin/api`);
    await expandArea(page, 'basic-auth');
    revokePath = (await page.locator('#basic-area form[action$="/revoke"]').first().getAttribute('action')) ?? '';

    await page.goto(`${base}/operator/companies`);
    await page.getByLabel('Company name', { exact: true }).fill(COMPANY);
    await clickAndPost(page, () => page.getByRole('button', { name: 'Create company' }).click(), '/operator/companies');
    await page.goto(`${base}/operator/companies`);
    await page.getByRole('link', { name: COMPANY }).click();
    await page.waitForURL(/\/operator\/companies\/\d+$/);
    companyPath = new URL(page.url()).pathname;
    /** Invites `email` to the company; returns the link's path. */
    const invite = async (email: string) => {
      await page.goto(`${base}${companyPath}`);
      await page.getByLabel('Email', { exact: true }).fill(email);
      await clickAndPost(page, () => page.getByRole('button', { name: 'Send invitation' }).click(), '/invitations');
      const link = new URL(await page.locator('#invite-link').inputValue());
      return `${link.pathname}${link.search}`;
    };
    const administratorLink = await invite(ADMINISTRATOR);
    invitationPath = await invite(INVITED); // left open: its page is checked, and the company page shows it
    const administrator = browsers.administrator.page;
    await administrator.goto(`${base}${administratorLink}`);
    await administrator.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await administrator.getByLabel('Password again', { exact: true }).fill(PASSWORD);
    await administrator.getByRole('button', { name: 'Set password' }).click();
    await administrator.waitForURL(`${base}/admin/api`);

    await requestDocsAccess(page, base, OPERATOR);
    await grantDocsAccess(page, base, OPERATOR);
    for (const developer of DEVELOPERS) await requestDocsAccess(page, base, developer);

    await page.goto(`${base}/operator/outbox`);
    await page.locator('#outbox-rows tbody a').first().click();
    await page.waitForURL(/\/operator\/outbox\/\d+$/);
    outboxMessagePath = new URL(page.url()).pathname;
  }

  beforeAll(async () => {
    requireChromium();
    app = await startConsole({ ADMIN_EMAIL: OPERATOR, ADMIN_PASSWORD: PASSWORD, COMPANY_NAME: COMPANY });
    fresh = await startConsole(); // no ADMIN_EMAIL: its log holds a setup link
    const link = /\/setup\?token=[A-Za-z0-9_-]+/;
    for (let waited = 0; !link.test(fresh.server.output()) && waited < 5_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    setupPath = link.exec(fresh.server.output())?.[0] ?? '';
    browsers.operator = await openBrowser('js', app.base);
    browsers['signed out'] = await openBrowser('js', app.base);
    browsers['first start'] = browsers['signed out'];
    browsers.administrator = await openBrowser('js', app.base);
    await makeData(browsers.operator.page);
  }, 300_000);

  afterAll(async () => {
    await browsers.operator?.close();
    await browsers['signed out']?.close();
    await browsers.administrator?.close();
    await app?.stop();
    await fresh?.stop();
  });

  it.each(CASES)('%s, %i px wide: nothing reaches past the right edge', async (_name, width, consolePage) => {
    const { page } = browsers[consolePage.who];
    const base = consolePage.who === 'first start' ? fresh.base : app.base;
    await page.setViewportSize({ width, height: 900 });
    if (consolePage.who === 'operator') await ensureSignedIn(page, base, OPERATOR);
    if (consolePage.who === 'administrator') await ensureSignedIn(page, base, ADMINISTRATOR);
    await consolePage.open(page, base);
    const fit = await overflow(page);
    expect(fit.pastRightEdge).toEqual([]);
    expect(fit.pastTheirBox).toEqual([]);
    expect(fit.scrollWidth).toBeLessThanOrEqual(width);
    expect(fit.innerWidth).toBe(width);
  });

  it('the README screenshot of the credentials in use, 1280 px wide', async () => {
    const { page } = browsers.operator;
    await page.setViewportSize({ width: 1280, height: 900 });
    await ensureSignedIn(page, app.base, OPERATOR);
    await expandArea(page, 'oauth');
    const table = page.locator('#oauth-area table.data').first();
    expect(await table.locator('tbody tr').count()).toBe(2); // active and in its overlap
    const fit = await overflow(page);
    expect(fit.pastRightEdge).toEqual([]);
    expect(fit.pastTheirBox).toEqual([]); // every column, Revoke too, within the card
    await screenshot(page, 'api-oauth-in-use.png');
  });
});
