import type { Clock } from '../../clock';
import { DAY, HOUR, formatUtcMinute } from '../../clock';
import type { Database } from '../../db/connect';
import * as repo from './repo';
import type { HourUsage } from './repo';
import { USAGE_DAYS, startOfHour } from './tracker';

export interface UsageDeps {
  db: Database;
  clock: Clock;
}

/** What a usage panel needs to know of a credential (the API page's credential view has it all). */
export interface UsedCredential {
  id: number;
  kind: 'basic' | 'oauth';
  identifier: string;
  secretPrefix: string;
  status: string;
  lastUsedAt: number | null;
}

/** The kinds of use each kind of credential has: an API key is checked; a client gets tokens, which are then checked. */
const COLUMNS: Record<UsedCredential['kind'], { key: keyof Omit<HourUsage, 'hour'>; label: string }[]> = {
  basic: [{ key: 'basic', label: 'API key checks' }],
  oauth: [
    { key: 'token', label: 'Tokens issued' },
    { key: 'bearer', label: 'Bearer checks' },
  ],
};

/** One bar of a chart, in the SVG's own units (its viewBox), with the number it stands for. */
export interface UsageBar {
  x: number;
  y: number;
  width: number;
  height: number;
  value: number;
  /** The bar's tooltip: its period and number. */
  title: string;
}

export interface UsageChart {
  id: string;
  caption: string;
  /** The image's accessible name; the table gives each number. */
  label: string;
  width: number;
  height: number;
  bars: UsageBar[];
  firstLabel: string;
  lastLabel: string;
}

export interface UsageTableRow {
  period: string;
  counts: number[];
  total: number;
}

export interface UsageTable {
  caption: string;
  periodLabel: string;
  rows: UsageTableRow[];
}

export interface UsagePanel {
  credentialId: number;
  /** E.g. "API key ck_Ab12Cd…": which secret the numbers are for. */
  heading: string;
  lastUsedAt: number | null;
  lastCaller?: { at: number; address: string; userAgent: string };
  summary: string;
  columns: string[];
  perDay: { chart: UsageChart; table: UsageTable };
  perHour: { chart: UsageChart; table: UsageTable };
}

const CHART_HEIGHT = 60;
const SLOT = 10; // each bar's share of the width, in the SVG's units
const BAR = 7;

const startOfDay = (ms: number): number => ms - (((ms % DAY) + DAY) % DAY);
const dayLabel = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/** An IPv4 address as people write it: node gives a dual-stack socket's IPv4 callers as ::ffff:a.b.c.d. */
const shownAddress = (address: string): string => address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');

/** Periods of `length` ms from `first` on, each with its counts summed from `hours`. */
function bucket(hours: HourUsage[], first: number, count: number, length: number): HourUsage[] {
  const buckets = Array.from({ length: count }, (_, i) => ({ hour: first + i * length, basic: 0, token: 0, bearer: 0 }));
  for (const h of hours) {
    const index = Math.floor((h.hour - first) / length);
    if (index < 0 || index >= count) continue;
    buckets[index].basic += h.basic;
    buckets[index].token += h.token;
    buckets[index].bearer += h.bearer;
  }
  return buckets;
}

function chart(id: string, caption: string, label: string, periods: { period: string; total: number }[]): UsageChart {
  const most = Math.max(1, ...periods.map((p) => p.total));
  const bars = periods.map(({ period, total }, i) => {
    // A period with any use shows at least a sliver, so one use among thousands is still seen.
    const height = total === 0 ? 0 : Math.max(1, Math.round((total / most) * CHART_HEIGHT * 10) / 10);
    return { x: i * SLOT + (SLOT - BAR) / 2, y: CHART_HEIGHT - height, width: BAR, height, value: total, title: `${period}: ${plural(total, 'use', 'uses')}` };
  });
  return {
    id,
    caption,
    label,
    width: periods.length * SLOT,
    height: CHART_HEIGHT,
    bars,
    firstLabel: periods[0].period,
    lastLabel: periods[periods.length - 1].period,
  };
}

function series(credential: UsedCredential, hours: HourUsage[], first: number, count: number, length: number, name: (ms: number) => string) {
  const columns = COLUMNS[credential.kind];
  return bucket(hours, first, count, length).map((b) => {
    const counts = columns.map((c) => b[c.key]);
    return { period: name(b.hour), counts, total: counts.reduce((a, n) => a + n, 0) };
  });
}

/**
 * The usage panels of the given credentials: the last 30 days per UTC day (today last) and the last
 * 24 hours per hour (this hour last; its words say "the last day", as "24 hours" names an overlap choice), each as a bar chart of all successful uses and a table by kind
 * of use, with the last caller. 720 hourly bars would be unreadable; a day and an hour are the two
 * questions an administrator asks ("is it used at all?", "has the old key gone quiet?").
 */
export async function usagePanels(deps: UsageDeps, credentials: UsedCredential[], headingOf: (c: UsedCredential) => string): Promise<UsagePanel[]> {
  const now = deps.clock.now();
  const firstDay = startOfDay(now) - (USAGE_DAYS - 1) * DAY;
  const firstHour = startOfHour(now) - 23 * HOUR;
  const ids = credentials.map((c) => c.id);
  const rows = await repo.listUsageSince(deps.db, ids, Math.min(firstDay, firstHour));
  const callers = new Map((await repo.listLastCallers(deps.db, ids)).map((c) => [c.credentialId, c]));
  return credentials.map((credential) => {
    const hours = rows.filter((r) => r.credentialId === credential.id);
    const days = series(credential, hours, firstDay, USAGE_DAYS, DAY, dayLabel);
    const lastHours = series(credential, hours, firstHour, 24, HOUR, formatUtcMinute);
    const total = days.reduce((a, d) => a + d.total, 0);
    const caller = callers.get(credential.id);
    const heading = headingOf(credential);
    const columns = COLUMNS[credential.kind].map((c) => c.label);
    return {
      credentialId: credential.id,
      heading,
      lastUsedAt: credential.lastUsedAt,
      lastCaller: caller && { at: caller.at, address: shownAddress(caller.address), userAgent: caller.userAgent },
      summary: total === 0 ? 'Not used in the last 30 days.' : `${plural(total, 'successful use', 'successful uses')} in the last 30 days.`,
      columns,
      perDay: {
        chart: chart(`usage-${credential.id}-days`, 'Per day, last 30 days (UTC)', `Uses of ${heading} per day over the last 30 days: ${total} in all.`, days),
        table: { caption: `${heading}: uses per day, last 30 days`, periodLabel: 'Day (UTC)', rows: days },
      },
      perHour: {
        chart: chart(
          `usage-${credential.id}-hours`,
          'Per hour, the last day (24 bars)',
          `Uses of ${heading} per hour over the last day: ${lastHours.reduce((a, h) => a + h.total, 0)} in all.`,
          lastHours,
        ),
        table: { caption: `${heading}: uses per hour, the last day`, periodLabel: 'Hour starting', rows: lastHours },
      },
    };
  });
}
