import type { Page } from 'playwright-core';
import type { Browser, Console, Mode } from './support';
import { PASSWORD, ageTheCheck, clickAndPost, openBrowser, requireChromium, signIn, startConsole, submitPassword } from './support';
import axe from 'axe-core';

jest.setTimeout(120_000);

const EMAIL = 'passkeys.admin@example.com';
const SIGN_IN_REFUSED = 'That passkey did not sign you in. It may have been removed, or the account is not active. Sign in with your email and password.';

/** Every axe-core violation on the page as it is now, whatever its impact. */
async function axeViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axe.source);
  return page.evaluate(async () => {
    const w = window as unknown as { axe: typeof axe };
    const result = await w.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => String(n.target)).join(', ')}`);
  });
}

async function signOut(page: Page, base: string): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${base}/sign-in`);
}

/** Clicks "Sign in with a passkey"; the virtual authenticator answers at once. Resolves with the server's answer's status. */
async function signInWithPasskey(page: Page): Promise<number> {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/sign-in/passkey'),
    page.getByRole('button', { name: 'Sign in with a passkey' }).click(),
  ]);
  return response.status();
}

/**
 * A console and a browser in this mode for the describe block's tests. WebAuthn's RP ID is a domain, so the
 * console's public URL is http://localhost:PORT (a secure context). With script, Chromium gets a virtual
 * authenticator that answers every ceremony at once, the user verified.
 */
function consoleAndBrowser(mode: Mode): { app: () => Console; page: () => Page } {
  let app: Console;
  let browser: Browser;
  beforeAll(async () => {
    requireChromium();
    app = await startConsole({ ADMIN_EMAIL: EMAIL, ADMIN_PASSWORD: PASSWORD }, { host: 'localhost' });
    browser = await openBrowser(mode, app.base);
    if (mode === 'nojs') return;
    const cdp = await browser.context.newCDPSession(browser.page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
    });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });
  return { app: () => app, page: () => browser.page };
}

describe('passkeys in Chromium with a virtual authenticator (JavaScript enabled)', () => {
  const running = consoleAndBrowser('js');
  let app: Console;
  let page: Page;
  beforeAll(() => {
    app = running.app();
    page = running.page();
  });

  it('registers a passkey, signs out, signs in with it; once removed it no longer signs in', async () => {
    await signIn(page, app.base, EMAIL);
    // Passkeys are one of the factors on Security (the side navigation's one entry for them).
    await page.getByRole('link', { name: 'Security', exact: true }).click();
    await page.getByRole('link', { name: 'Add a passkey' }).click();
    await page.waitForURL(`${app.base}/account/passkeys`);
    expect(await page.getByText('You have no passkeys yet.').isVisible()).toBe(true);

    // Register: the name, then the browser's ceremony (answered by the virtual authenticator), then the page again.
    await page.getByLabel('Name', { exact: true }).fill('Work laptop');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByText('Passkey "Work laptop" added. You can sign in with it from now on.').waitFor();
    expect(await page.locator('#passkey-list tbody tr').count()).toBe(1);
    expect(await page.locator('#passkey-list tbody td').first().textContent()).toBe('Work laptop');
    expect(await page.locator('#passkey-list tbody td').nth(2).textContent()).toBe('Never');

    // Sign out, then sign in with the passkey alone: no email, no password.
    await signOut(page, app.base);
    expect(await signInWithPasskey(page)).toBe(200);
    await page.waitForURL(`${app.base}/admin/api`);
    expect(await page.getByText(EMAIL).first().isVisible()).toBe(true);

    // The list shows when it was last used; remove it (htmx swaps the list).
    await page.goto(`${app.base}/account/passkeys`);
    expect(await page.locator('#passkey-list tbody td').nth(2).textContent()).not.toBe('Never');
    await clickAndPost(page, () => page.getByRole('button', { name: 'Remove Work laptop' }).click(), '/account/passkeys/');
    await page.getByText('Passkey "Work laptop" removed. It no longer signs you in.').waitFor();
    expect(await page.getByText('You have no passkeys yet.').isVisible()).toBe(true);

    // The authenticator still holds the credential, but the console no longer knows it.
    await signOut(page, app.base);
    expect(await signInWithPasskey(page)).toBe(401);
    await page.getByText(SIGN_IN_REFUSED).waitFor();
    expect(new URL(page.url()).pathname).toBe('/sign-in');
  });

  it('has no axe-core violations on /account/passkeys, with a passkey listed and with name errors shown; renames it', async () => {
    await signIn(page, app.base, EMAIL);
    await page.goto(`${app.base}/account/passkeys`);
    await page.getByLabel('Name', { exact: true }).fill('Security key');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByText('Passkey "Security key" added. You can sign in with it from now on.').waitFor();
    expect(await axeViolations(page)).toEqual([]);
    // The same name again: refused before the ceremony, the message by the field.
    await page.getByLabel('Name', { exact: true }).fill('security KEY');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByText('You already have a passkey named "security KEY". Choose another name.').waitFor();
    expect(await page.getByLabel('Name', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    expect(await axeViolations(page)).toEqual([]);
    // Rename, first with an empty name (the error by the field, the rename left open), then for real.
    await page.getByText('Rename Security key').click();
    await page.getByLabel('New name for Security key').fill('');
    await clickAndPost(page, () => page.getByRole('button', { name: 'Save name of Security key' }).click(), '/rename');
    await page.getByText('Give the passkey a name, such as "Work laptop".').first().waitFor();
    expect(await axeViolations(page)).toEqual([]);
    await page.getByLabel('New name for Security key').fill('YubiKey');
    await clickAndPost(page, () => page.getByRole('button', { name: 'Save name of Security key' }).click(), '/rename');
    await page.getByText('Passkey renamed to "YubiKey".').waitFor();
    expect(await page.locator('#passkey-list tbody td').first().textContent()).toBe('YubiKey');
  });
});

describe('adding a passkey with a check older than 10 minutes (sudo mode, JavaScript enabled)', () => {
  const running = consoleAndBrowser('js');

  it('asks for the password in the add form, keeps the name, and adds the passkey once it is given', async () => {
    const app = running.app();
    const page = running.page();
    await signIn(page, app.base, EMAIL);
    await page.goto(`${app.base}/account/passkeys`);
    const password = page.getByLabel('Your password', { exact: true });
    expect(await password.isVisible()).toBe(false); // a fresh check: nothing more to type
    await ageTheCheck(app);

    await page.getByLabel('Name', { exact: true }).fill('Office key');
    const [asked] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/account/passkeys/options'),
      page.getByRole('button', { name: 'Add a passkey' }).click(),
    ]);
    expect(asked.status()).toBe(401);
    await page.getByText('Confirm it’s you: enter your password').waitFor();
    expect(await password.isVisible()).toBe(true);
    expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('Office key');
    expect(await page.locator('#passkey-list tbody tr').count()).toBe(0);

    await password.fill(PASSWORD);
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByText('Passkey "Office key" added. You can sign in with it from now on.').waitFor();
    expect(await page.locator('#passkey-list tbody td').first().textContent()).toBe('Office key');
  });
});

describe('a passkey as the second sign-in step (JavaScript enabled)', () => {
  // A console of its own: its administrator has no passkey until this test adds one.
  const running = consoleAndBrowser('js');

  it('signs in with password plus passkey', async () => {
    const [app, page] = [running.app(), running.page()];
    await signIn(page, app.base, EMAIL);
    await page.goto(`${app.base}/account/passkeys`);
    await page.getByLabel('Name', { exact: true }).fill('Work laptop');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByText('Passkey "Work laptop" added. You can sign in with it from now on.').waitFor();
    // Security lists it among the second factors.
    await page.goto(`${app.base}/account/security`);
    expect(await page.locator('#section-passkeys tbody td').first().textContent()).toBe('Work laptop');
    await signOut(page, app.base);

    // The password first: the passkey is now a second factor, so the console asks for the second step.
    await submitPassword(page, app.base, EMAIL, PASSWORD, '/audit');
    await page.waitForURL(`${app.base}/sign-in/second-factor`);
    // Only a passkey to offer: no code field, and the no-script sentence hidden by the script.
    expect(await page.getByLabel('Authenticator code or recovery code').count()).toBe(0);
    expect(await page.getByText('Using a passkey needs JavaScript').isVisible()).toBe(false);
    expect(await axeViolations(page)).toEqual([]);
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/sign-in/second-factor/passkey'),
      page.getByRole('button', { name: 'Use a passkey' }).click(),
    ]);
    expect(response.status()).toBe(200);
    await page.waitForURL(`${app.base}/audit`);
    expect(await page.getByText(EMAIL).first().isVisible()).toBe(true);
  });
});

describe('passkeys without JavaScript', () => {
  const running = consoleAndBrowser('nojs');
  let app: Console;
  let page: Page;
  beforeAll(() => {
    app = running.app();
    page = running.page();
  });

  it('says plainly that passkeys need JavaScript, in place of the passkey buttons; the pages still work', async () => {
    await page.goto(`${app.base}/sign-in`);
    expect(await page.getByText('Signing in with a passkey needs JavaScript. Without it, sign in with your email and password.').isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'Sign in with a passkey' }).isVisible()).toBe(false);
    await signIn(page, app.base, EMAIL);
    await page.goto(`${app.base}/account/passkeys`);
    expect(await page.getByText('Passkeys need JavaScript: your browser talks to the passkey.').isVisible()).toBe(true);
    expect(await page.getByRole('button', { name: 'Add a passkey' }).isVisible()).toBe(false);
    expect(await page.getByText('You have no passkeys yet.').isVisible()).toBe(true);
  });
});
