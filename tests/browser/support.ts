import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import axe from 'axe-core';
import { CompiledQuery } from 'kysely';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page, Response } from 'playwright-core';
import { MINUTE } from '../../src/clock';
import { connect } from '../../src/db/connect';
import { ROOT } from '../../src/paths';
import { ensureBuilt, freePort, startServer } from '../ops-support';
import { databaseEnvFor } from '../support/postgres';
import type { RunningServer } from '../ops-support';

/**
 * The real server and Debian's Chromium, for the end-to-end browser tests. Every test file starts
 * its own server on a fresh data directory and its own browser on a fresh profile.
 */

export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');
export const PASSWORD = 'correct horse battery staple';
/** The stylesheet's first line: found in the browser's disk cache, it proves the cache is searched for real. */
const STYLESHEET_PROBE = fs.readFileSync(path.join(ROOT, 'public', 'css', 'app.css'), 'utf8').split('\n')[0];

export type Mode = 'js' | 'nojs';
export const MODES: [string, Mode][] = [
  ['enabled', 'js'],
  ['disabled', 'nojs'],
];

/** The browser suite never skips: without Chromium it fails and says how to install it. */
export function requireChromium(): void {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `The browser tests need Debian's Chromium at ${CHROMIUM}, which is missing. npm test installs it (as root or with passwordless sudo); or: apt-get update && apt-get install -y chromium`,
    );
  }
}

export interface Console {
  server: RunningServer;
  base: string;
  dataDir: string;
  stop: () => Promise<void>;
}

/**
 * Builds once (skipped when dist/ is current), then starts `node dist/src/server.js` on a fresh DATA_DIR and a free
 * port; on a PostgreSQL run (TEST_ENGINE=postgres), on a fresh database of the run's cluster too. `host` names the
 * loopback in the public URL: passkeys need `localhost` (WebAuthn takes a domain, never an IP address, as RP ID).
 */
export async function startConsole(env: Record<string, string> = {}, { host = '127.0.0.1' }: { host?: '127.0.0.1' | 'localhost' } = {}): Promise<Console> {
  ensureBuilt();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-browser-'));
  const port = await freePort();
  const base = `http://${host}:${port}`;
  const server = await startServer({ DATA_DIR: dataDir, ...databaseEnvFor(dataDir), PUBLIC_URL: base, BCRYPT_COST: '10', LOG_LEVEL: 'info', ...env }, port);
  return {
    server,
    base,
    dataDir,
    stop: async () => {
      server.child.kill('SIGTERM');
      await server.exited;
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  js: boolean;
  /** The profile directory: its disk cache is searched for secrets. */
  userDataDir: string;
  close: () => Promise<void>;
}

/** Chromium on a fresh profile (a persistent context, so the HTTP cache is on disk where a test can search it). */
export async function openBrowser(mode: Mode, base: string, viewport = { width: 1280, height: 900 }): Promise<Browser> {
  requireChromium();
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-chromium-'));
  const js = mode === 'js';
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    javaScriptEnabled: js,
    viewport,
  });
  if (js) await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    js,
    userDataDir,
    close: async () => {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export async function signIn(page: Page, base: string, email: string, password = PASSWORD): Promise<void> {
  await submitPassword(page, base, email, password);
  await page.waitForURL(`${base}/admin/api`);
}

/** The sign-in form filled and sent (the first step only: a user with a second factor is then asked for it). */
export async function submitPassword(page: Page, base: string, email: string, password = PASSWORD, next?: string): Promise<void> {
  await page.goto(`${base}/sign-in${next ? `?next=${encodeURIComponent(next)}` : ''}`);
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** A fresh console whose first operator is `email` (company `company`, "Acme <mode>" by default), and a browser signed in as them on the API page. */
export async function signedInConsole(mode: Mode, email: string, company = `Acme ${mode}`): Promise<{ app: Console; browser: Browser }> {
  requireChromium();
  const app = await startConsole({ ADMIN_EMAIL: email, ADMIN_PASSWORD: PASSWORD, COMPANY_NAME: company });
  const browser = await openBrowser(mode, app.base);
  await signIn(browser.page, app.base, email);
  return { app, browser };
}

/** Clicks and waits for the response to the POST (htmx or a plain form) that the click sends. */
export async function clickAndPost(page: Page, click: () => Promise<void>, urlPart: string): Promise<Response> {
  const [response] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST' && r.url().includes(urlPart)), click()]);
  await page.waitForLoadState();
  return response;
}

/** The page's HTML, also while a history step or an error page is still settling. */
export async function pageHtml(page: Page): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      await page.waitForLoadState();
      return await page.content();
    } catch (err) {
      if (attempt > 20) throw err;
      await page.waitForTimeout(50);
    }
  }
}

/**
 * Reload, Back or Forward. A page that answered a POST and was never cached cannot be shown again
 * without sending the form again: Chromium refuses (net::ERR_CACHE_MISS), which is the point.
 * Offline, anything not in a cache fails with net::ERR_INTERNET_DISCONNECTED.
 */
export async function historyStep(page: Page, step: 'reload' | 'back' | 'forward'): Promise<string> {
  try {
    if (step === 'reload') await page.reload();
    else if (step === 'back') await page.goBack();
    else await page.goForward();
  } catch (err) {
    if (!/ERR_CACHE_MISS|ERR_INTERNET_DISCONNECTED|ERR_ABORTED/.test(String(err))) throw err;
  }
  return pageHtml(page);
}

/** Every key and value of localStorage and sessionStorage, as one string to search. */
export async function webStorage(page: Page): Promise<string> {
  return page.evaluate(() => {
    const dump = (s: Storage) => Array.from({ length: s.length }, (_, i) => `${s.key(i)}=${s.getItem(s.key(i) ?? '')}`).join('\n');
    return `${dump(window.localStorage)}\n${dump(window.sessionStorage)}`;
  });
}

function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  if (!fs.existsSync(dir)) return hits;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) hits.push(...filesContaining(full, needle));
    else if (entry.isFile()) {
      try {
        if (fs.readFileSync(full).includes(needle)) hits.push(full);
      } catch {
        // a file Chromium is rewriting right now
      }
    }
  }
  return hits;
}

/** Files of the browser profile that hold `needle` (the disk cache, storage, session restore...). */
export function profileFilesContaining(browser: Browser, needle: string): string[] {
  return filesContaining(browser.userDataDir, needle).map((f) => path.relative(browser.userDataDir, f));
}

/**
 * After a generate and save: the secret is on no page that reload, Back and Forward show (online and
 * offline), in no web storage, and in no file of the browser profile (its HTTP cache included).
 */
export async function expectSecretGone(browser: Browser, secret: string): Promise<void> {
  const { page, context } = browser;
  const start = page.url();
  expect(await pageHtml(page)).not.toContain(secret);
  expect(await webStorage(page)).not.toContain(secret);
  expect(await historyStep(page, 'reload')).not.toContain(secret);
  expect(await webStorage(page)).not.toContain(secret);
  for (const step of ['back', 'forward'] as const) {
    expect(await historyStep(page, step)).not.toContain(secret);
  }
  await context.setOffline(true);
  try {
    for (const step of ['back', 'forward', 'reload'] as const) {
      expect(await historyStep(page, step)).not.toContain(secret);
    }
  } finally {
    await context.setOffline(false);
  }
  await page.goto(start);
  expect(await webStorage(page)).not.toContain(secret);
  // The disk cache is really in use (Chromium writes it lazily): the stylesheet, cacheable for an hour, is in it...
  for (let waited = 0; !profileFilesContaining(browser, STYLESHEET_PROBE).length && waited < 5_000; waited += 100) await page.waitForTimeout(100);
  expect(profileFilesContaining(browser, STYLESHEET_PROBE).length).toBeGreaterThan(0);
  // ...and no file of the profile (cache, storage, session) holds the secret.
  expect(profileFilesContaining(browser, secret)).toEqual([]);
}

/** What the copy button put on the clipboard (with script), or the read-only field's value (without). */
export async function copyField(browser: Browser, fieldId: string): Promise<string> {
  const { page } = browser;
  const field = page.locator(`#${fieldId}`);
  expect(await field.getAttribute('readonly')).not.toBeNull();
  const value = await field.inputValue();
  const button = page.locator(`button[data-copy="#${fieldId}"]`);
  if (!browser.js) {
    expect(await button.isVisible()).toBe(false); // a copy button that cannot work is not offered
    return value;
  }
  await page.evaluate(() => navigator.clipboard.writeText(''));
  await button.click();
  // The status is announced through the aria-live region.
  await page.waitForFunction(() => document.getElementById('copy-status')?.textContent === 'Copied to the clipboard.');
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(copied).toBe(value);
  await page.evaluate(() => {
    document.getElementById('copy-status')!.textContent = '';
  });
  return copied;
}

export interface AxeViolation {
  id: string;
  impact: string | null | undefined;
  help: string;
  targets: string[];
}

/** axe-core on the page as it is now; returns the serious and critical violations (an empty list passes). */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  // page.evaluate runs through the DevTools protocol, which the page's CSP does not block.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axe.source);
  const violations = await page.evaluate(async () => {
    const w = window as unknown as { axe: typeof axe };
    const result = await w.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => String(n.target)) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Saves docs/screenshots/<name> (the README shows them): the whole page, or only what the viewport shows. */
export async function screenshot(page: Page, name: string, fullPage = true): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, name), fullPage });
}

/** Basic credentials for the token endpoint: each part form-urlencoded before base64 (RFC 6749 2.3.1). */
export function clientBasic(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

export function apiKeyBasic(username: string, key: string): string {
  return `Basic ${Buffer.from(`${username}:${key}`).toString('base64')}`;
}

export async function callMe(base: string, authorization: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/api/v1/me`, { headers: { authorization } });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Signed in as `email` (signs in only when the browser's session is not). */
export async function ensureSignedIn(page: Page, base: string, email: string): Promise<void> {
  await page.goto(`${base}/admin/api`);
  if (new URL(page.url()).pathname === '/sign-in') await signIn(page, base, email);
}

/** Opens a <details> area of the page by its summary, unless it is open already. */
export async function expandArea(page: Page, id: string): Promise<void> {
  if (!(await page.locator(`#${id}`).evaluate((d) => (d as HTMLDetailsElement).open))) await page.locator(`#${id} > summary`).click();
}

/** On the API page: Generate API Key for `username`; resolves when the new key is shown. */
export async function generateApiKeyOnPage(page: Page, username: string): Promise<void> {
  await expandArea(page, 'basic-auth');
  await page.getByLabel('Username', { exact: true }).fill(username);
  await clickAndPost(page, () => page.getByRole('button', { name: 'Generate API Key' }).click(), '/basic-auth/generate');
  await page.locator('#basic-key').waitFor();
}

/** On the API page: Generate Client Credentials with the scopes ticked by default; resolves when the secret is shown. */
export async function generateClientOnPage(page: Page): Promise<void> {
  await expandArea(page, 'oauth');
  await clickAndPost(page, () => page.getByRole('button', { name: 'Generate Client Credentials' }).click(), '/oauth/generate');
  await page.locator('#oauth-client-secret').waitFor();
}

/** Saves the credential just generated in one area, with the overlap choice's label when given. */
export async function saveGenerated(page: Page, kind: 'basic' | 'oauth', overlap?: string): Promise<void> {
  const area = page.locator(kind === 'basic' ? '#basic-area' : '#oauth-area');
  if (overlap) await area.getByLabel(overlap).check();
  await clickAndPost(page, () => area.getByRole('button', { name: 'Save' }).click(), '/save');
  await page
    .getByText(kind === 'basic' ? 'API key saved.' : 'Client credentials saved.')
    .first()
    .waitFor();
}

/**
 * On the API page: Generate API Key for `username`, copy it (copyField: the clipboard with script, the read-only
 * field without), Save (with the overlap choice's label when given); returns the key.
 */
export async function savedApiKeyOnPage(browser: Browser, base: string, username: string, overlap?: string): Promise<string> {
  const { page } = browser;
  await page.goto(`${base}/admin/api`);
  await generateApiKeyOnPage(page, username);
  const key = await copyField(browser, 'basic-key');
  await saveGenerated(page, 'basic', overlap);
  return key;
}

/** The documentation-access area: Request Access, Email, Next, Request Access; leaves a pending request for `email`. */
export async function requestDocsAccess(page: Page, base: string, email: string): Promise<void> {
  await page.goto(`${base}/admin/api`);
  await expandArea(page, 'docs-access');
  const area = page.locator('#docs-access');
  await area.getByRole('button', { name: 'Request Access' }).click();
  await area.getByLabel('Email', { exact: true }).fill(email);
  await clickAndPost(page, () => area.getByRole('button', { name: 'Next' }).click(), '/docs-access/next');
  await area.locator('.confirm-email').waitFor();
  await clickAndPost(page, () => area.getByRole('button', { name: 'Request Access' }).click(), '/docs-access');
  await area
    .locator('table tbody tr')
    .filter({ has: page.getByRole('cell', { name: email, exact: true }) })
    .waitFor();
}

/** An operator grants the pending request for `email` on the Access requests page. */
export async function grantDocsAccess(page: Page, base: string, email: string): Promise<void> {
  await page.goto(`${base}/operator/access-requests`);
  await clickAndPost(page, () => page.getByRole('button', { name: `Grant access to ${email}` }).click(), '/grant');
  await page.getByText(`Access granted to ${email}.`).waitFor();
}

export interface Overflow {
  scrollWidth: number;
  innerWidth: number;
  /** Elements whose box reaches past the viewport's right edge: a short description and how far. */
  pastRightEdge: string[];
  /**
   * Elements or text that fit the viewport yet run past the right edge of their card, or of a box that cuts
   * or scrolls them (overflow other than visible): a column cut off or scrolled out of sight inside a card.
   */
  pastTheirBox: string[];
}

/**
 * Whether the page as shown fits its viewport: the document scrolls no wider than the viewport, no rendered
 * element or text (visually hidden ones aside) reaches past its right edge, even inside a scroll box, and
 * nothing runs out of its card or out of a box that would cut it off or scroll it (on a wide window a card
 * ends well before the viewport does, so the viewport's edge alone would not see a table cut inside it).
 */
export async function overflow(page: Page): Promise<Overflow> {
  return page.evaluate(() => {
    const visuallyHidden = (el: Element) => {
      for (let e: Element | null = el; e; e = e.parentElement) {
        const style = getComputedStyle(e);
        if (style.clip === 'rect(0px, 0px, 0px, 0px)' || style.clipPath === 'inset(50%)') return true;
      }
      return false;
    };
    const describe = (el: Element) => {
      const id = el.id ? `#${el.id}` : '';
      const cls = typeof el.className === 'string' && el.className ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
      const text = (el.textContent ?? '').trim().replace(/\s+/g, ' ').slice(0, 40);
      return `${el.tagName.toLowerCase()}${id}${cls} "${text}"`;
    };
    /** From `from` up, the first element that is a card or cuts or scrolls what runs out of it, and where its inside ends. */
    const enclosingBox = (from: Element | null) => {
      for (let a = from; a && a !== document.body; a = a.parentElement) {
        const style = getComputedStyle(a);
        if (style.overflowX === 'visible' && !a.classList.contains('card')) continue;
        return { box: a, right: a.getBoundingClientRect().right - parseFloat(style.borderRightWidth) };
      }
      return null;
    };
    const pastRightEdge: string[] = [];
    const pastTheirBox: string[] = [];
    /** Reports `what` if it ends past the viewport or past `enclosing`; says whether it did. */
    const check = (what: string, right: number, enclosing: ReturnType<typeof enclosingBox>) => {
      if (right > window.innerWidth + 0.5) pastRightEdge.push(`${what} ends at ${Math.round(right)} px`);
      else if (enclosing && right > enclosing.right + 0.5)
        pastTheirBox.push(`${what} ends at ${Math.round(right)} px, past ${describe(enclosing.box)} at ${Math.round(enclosing.right)} px`);
      else return false;
      return true;
    };
    const reported = new Set<Element>(); // the outermost element is enough: its content goes with it
    for (const el of Array.from(document.body.querySelectorAll('*'))) {
      if (el.parentElement && reported.has(el.parentElement)) {
        reported.add(el);
        continue;
      }
      const box = el.getBoundingClientRect();
      if (box.width === 0 && box.height === 0) continue; // not rendered (closed details, display: none)
      if (!visuallyHidden(el) && check(describe(el), box.right, enclosingBox(el.parentElement))) reported.add(el);
    }
    // Text can run out of a box that itself fits (a long word in a heading): measure the text too. Its own
    // element is its box when that cuts or scrolls it.
    const texts = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    for (let node = texts.nextNode(); node; node = texts.nextNode()) {
      const parent = node.parentElement;
      if (!parent || reported.has(parent) || !node.textContent?.trim()) continue;
      range.selectNodeContents(node);
      const box = range.getBoundingClientRect();
      if (box.width === 0 || visuallyHidden(parent)) continue;
      check(`text of ${describe(parent)}`, box.right, enclosingBox(parent));
    }
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, pastRightEdge, pastTheirBox };
  });
}

/**
 * The running server's clock is the system's: the session's check is made 11 minutes old in its row
 * instead (the server reads the session from the database on every request).
 */
export async function ageTheCheck(app: Console): Promise<void> {
  const { DATABASE_URL } = databaseEnvFor(app.dataDir);
  const connection = connect({ databaseUrl: DATABASE_URL, databaseFile: path.join(app.dataDir, 'console.sqlite'), poolSize: 1 });
  try {
    const placeholder = (n: number) => (connection.engine === 'postgres' ? `$${n}` : '?');
    const { rows } = await connection.db.executeQuery<{ sid: string; data: string }>(
      CompiledQuery.raw('SELECT sid, data FROM sessions WHERE user_id IS NOT NULL'),
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const { sid, data } of rows) {
      const aged = JSON.stringify({ ...(JSON.parse(data) as object), checkedAt: Date.now() - 11 * MINUTE });
      await connection.db.executeQuery(CompiledQuery.raw(`UPDATE sessions SET data = ${placeholder(1)} WHERE sid = ${placeholder(2)}`, [aged, sid]));
    }
  } finally {
    await connection.close();
  }
}
