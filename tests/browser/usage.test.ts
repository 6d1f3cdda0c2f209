import type { Page } from 'playwright-core';
import type { Browser, Console } from './support';
import { apiKeyBasic, expandArea, savedApiKeyOnPage, screenshot, seriousViolations, signedInConsole } from './support';

jest.setTimeout(120_000);

/** What a usage panel shows: each chart's bar numbers, each table's totals, the last caller. */
interface PanelReading {
  heading: string;
  bars: Record<string, number[]>;
  tables: Record<string, number[]>;
  lastCaller: string;
}

async function readPanels(page: Page): Promise<PanelReading[]> {
  return page.locator('#basic-area .usage-panel').evaluateAll((panels) =>
    panels.map((panel) => {
      const bars: Record<string, number[]> = {};
      for (const svg of Array.from(panel.querySelectorAll('svg[data-chart]'))) {
        bars[svg.getAttribute('data-chart')!] = Array.from(svg.querySelectorAll('rect')).map((r) => Number(r.getAttribute('data-value')));
      }
      const tables: Record<string, number[]> = {};
      for (const table of Array.from(panel.querySelectorAll('table[data-table]'))) {
        tables[table.getAttribute('data-table')!] = Array.from(table.querySelectorAll('tbody tr')).map((row) => Number(row.lastElementChild!.textContent));
      }
      const dd = Array.from(panel.querySelectorAll('dt')).find((dt) => dt.textContent === 'Last caller')?.nextElementSibling;
      return { heading: panel.querySelector('h3')!.textContent.trim(), bars, tables, lastCaller: (dd?.textContent ?? '').trim() };
    }),
  );
}

/** Calls /api/v1/me with an API key as a client with its own User-Agent would. */
async function callMe(base: string, username: string, key: string, userAgent: string): Promise<number> {
  const res = await fetch(`${base}/api/v1/me`, { headers: { authorization: apiKeyBasic(username, key), 'user-agent': userAgent } });
  await res.arrayBuffer();
  return res.status;
}

describe('the usage of API keys on the API page', () => {
  let app: Console;
  let browser: Browser;
  let page: Page;
  const email = 'admin-usage@example.com';
  const username = 'usage-sync';

  beforeAll(async () => {
    ({ app, browser } = await signedInConsole('js', email, 'Usage Co'));
    page = browser.page;
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('reads the usage chart and its table: the same numbers, the old and the new key side by side during an overlap', async () => {
    const old = await savedApiKeyOnPage(browser, app.base, username);
    for (let i = 0; i < 3; i++) expect(await callMe(app.base, username, old, 'legacy-batch/1.0')).toBe(200);
    const fresh = await savedApiKeyOnPage(browser, app.base, username, '24 hours');
    expect(await callMe(app.base, username, fresh, 'new-batch/2.0')).toBe(200);

    await page.goto(`${app.base}/admin/api`);
    await expandArea(page, 'basic-auth');
    await expect(page.locator('#basic-area .usage-panels.usage-overlap .usage-panel').count()).resolves.toBe(2);
    for (const summary of await page.locator('#basic-area .usage-tables > summary').all()) await summary.click();
    const [newPanel, oldPanel] = await readPanels(page);

    expect(newPanel.heading).toBe(`API key ${fresh.slice(0, newPanel.heading.length - '…'.length - 'API key '.length)}…`);
    expect(oldPanel.lastCaller).toContain('legacy-batch/1.0');
    expect(newPanel.lastCaller).toContain('new-batch/2.0');
    for (const [panel, uses] of [
      [oldPanel, 3],
      [newPanel, 1],
    ] as const) {
      const charts = Object.keys(panel.bars);
      expect(charts).toHaveLength(2);
      for (const chart of charts) {
        expect(panel.tables[chart]).toEqual(panel.bars[chart]); // the table gives the chart's numbers
        expect(panel.bars[chart].at(-1)).toBe(uses); // today, and this hour: the last bar
        expect(panel.bars[chart].reduce((a, n) => a + n, 0)).toBe(uses);
      }
    }
    // The bars are drawn: today's bar has height, a day without use has none.
    const heights = await page
      .locator('#basic-area .usage-panel')
      .first()
      .locator('svg[data-chart$="-days"] rect')
      .evaluateAll((rects) => rects.map((r) => (r as SVGRectElement).getBBox().height));
    expect(heights.at(-1)).toBeGreaterThan(0);
    expect(heights[0]).toBe(0);
    expect(await seriousViolations(page)).toEqual([]);
    await page.setViewportSize({ width: 320, height: 640 });
    expect(await seriousViolations(page)).toEqual([]);
    await page.setViewportSize({ width: 1280, height: 900 });
    for (const summary of await page.locator('#basic-area .usage-tables > summary').all()) await summary.click();
    await screenshot(page, 'api-usage-overlap.png');
  });
});
