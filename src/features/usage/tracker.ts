import type { Clock } from '../../clock';
import { DAY, HOUR } from '../../clock';
import type { Database } from '../../db/connect';
import { WriteBehind } from '../../db/write-behind';
import { addHourUsage, deleteUsageBefore, recordLastCaller } from './repo';
import type { HourUsage } from './repo';

/** The kinds of successful use counted: an API key check, an access token issued, an access token accepted. */
export type UseKind = 'basic' | 'token' | 'bearer';

/** How long hourly counts are kept (and shown). */
export const USAGE_DAYS = 30;

/** A User-Agent is kept to this many characters: enough to tell clients apart, never a page of text. */
export const USER_AGENT_MAX = 200;

/** The advisory lock key of the usage flush on PostgreSQL: one replica writes at a time. */
const USAGE_JOB = 0x75736167; // 'usag'

/** One credential's uses since the last flush: the hour being counted, hours counted before it, and its last caller. */
interface Pending {
  current: HourUsage;
  /** Earlier hours of this batch (a batch that spans the turn of an hour); usually undefined. */
  earlier: HourUsage[] | undefined;
  at: number;
  address: string;
  /** The header as it came (truncated at flush, not per request). */
  userAgent: string | undefined;
}

/** What one flush writes: the counts taken, and the start of the hours to prune (at most once an hour). */
interface Batch {
  entries: Map<number, Pending>;
  pruneBefore: number | undefined;
  now: number;
}

/** The start of the UTC hour `ms` falls in. */
export const startOfHour = (ms: number): number => ms - (((ms % HOUR) + HOUR) % HOUR);
const emptyHour = (hour: number): HourUsage => ({ hour, basic: 0, token: 0, bearer: 0 });

/** One more use of a kind: plain property increments (a keyed `h[use]++` measured several times slower). */
function addUse(h: HourUsage, use: UseKind): void {
  if (use === 'basic') h.basic++;
  else if (use === 'token') h.token++;
  else h.bearer++;
}

/**
 * Each credential's successful uses per hour and its last caller, without a database write per
 * request: counted in memory (an increment on the credential's entry; an allocation only for a
 * credential's first use since the last flush, or the turn of an hour), written in one transaction
 * every few seconds and at shutdown, like the last-used times. Each replica counts its own requests;
 * a flush ADDS them to the hour's row (addHourUsage), so the replicas' counts add up. Hours older
 * than USAGE_DAYS are pruned by a flush, at most once an hour per process.
 */
export class UsageTracker extends WriteBehind<Batch> {
  private pending = new Map<number, Pending>();
  private lastPrune = Number.NEGATIVE_INFINITY;

  constructor(
    db: Database,
    private clock: Clock,
  ) {
    super(db, USAGE_JOB);
  }

  /** One successful use of the credential by the caller at `address` (with its User-Agent header, if any). */
  count(credentialId: number, use: UseKind, address: string, userAgent: string | undefined): void {
    const at = this.clock.now();
    const entry = this.pending.get(credentialId);
    if (entry === undefined) {
      const current = emptyHour(startOfHour(at));
      addUse(current, use);
      this.pending.set(credentialId, { current, earlier: undefined, at, address, userAgent });
      return;
    }
    if (at < entry.current.hour || at >= entry.current.hour + HOUR) this.turnHour(entry, startOfHour(at));
    addUse(entry.current, use);
    if (at >= entry.at) {
      entry.at = at;
      entry.address = address;
      entry.userAgent = userAgent;
    }
  }

  /** Makes `hour` the one counted into, keeping the one counted so far (or finding `hour` among earlier ones). */
  private turnHour(entry: Pending, hour: number): void {
    const earlier = (entry.earlier ??= []);
    earlier.push(entry.current);
    const index = earlier.findIndex((h) => h.hour === hour);
    entry.current = index < 0 ? emptyHour(hour) : earlier.splice(index, 1)[0];
  }

  protected take(): Batch | undefined {
    const now = this.clock.now();
    const pruneBefore = now - this.lastPrune >= HOUR ? startOfHour(now) - USAGE_DAYS * DAY : undefined;
    if (this.pending.size === 0 && pruneBefore === undefined) return undefined;
    const entries = this.pending;
    this.pending = new Map();
    return { entries, pruneBefore, now };
  }

  protected async write(trx: Database, batch: Batch): Promise<number> {
    for (const [credentialId, entry] of batch.entries) {
      for (const hour of entry.earlier ?? []) await addHourUsage(trx, credentialId, hour);
      await addHourUsage(trx, credentialId, entry.current);
      const userAgent = (entry.userAgent ?? '').slice(0, USER_AGENT_MAX);
      await recordLastCaller(trx, { credentialId, at: entry.at, address: entry.address, userAgent });
    }
    if (batch.pruneBefore !== undefined) {
      await deleteUsageBefore(trx, batch.pruneBefore);
      this.lastPrune = batch.now;
    }
    return batch.entries.size;
  }

  /** Adds an unwritten batch to what was counted since (a later prune tries again on its own). */
  protected putBack(batch: Batch): void {
    for (const [credentialId, kept] of batch.entries) {
      const entry = this.pending.get(credentialId);
      if (entry === undefined) {
        this.pending.set(credentialId, kept);
        continue;
      }
      for (const hour of [...(kept.earlier ?? []), kept.current]) {
        const into = entry.current.hour === hour.hour ? entry.current : entry.earlier?.find((h) => h.hour === hour.hour);
        if (into === undefined) (entry.earlier ??= []).push(hour);
        else {
          into.basic += hour.basic;
          into.token += hour.token;
          into.bearer += hour.bearer;
        }
      }
      if (kept.at > entry.at) Object.assign(entry, { at: kept.at, address: kept.address, userAgent: kept.userAgent });
    }
  }
}
