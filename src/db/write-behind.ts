import type { Database } from './connect';
import { skipped, transactionOnce } from './connect';

/**
 * What the hot path notes in memory and writes now and then, never per request (last-used times, usage
 * counts): every few seconds and at shutdown, in one transaction that runs once across replicas
 * (transactionOnce). While another replica flushes (PostgreSQL), or if the write fails, the batch is
 * put back for the next flush.
 */
export abstract class WriteBehind<Batch> {
  private timer?: NodeJS.Timeout;

  constructor(
    protected readonly db: Database,
    private readonly jobKey: number,
  ) {}

  /** Takes what waits to be written (leaving nothing behind), or undefined when there is nothing to do. */
  protected abstract take(): Batch | undefined;

  /** Writes a batch in the flush's transaction; returns how many items it wrote. */
  protected abstract write(trx: Database, batch: Batch): Promise<number>;

  /** Puts an unwritten batch back, with what was noted since. */
  protected abstract putBack(batch: Batch): void;

  /** Writes what waits; returns how many items were written (0 when another replica was flushing). */
  async flush(): Promise<number> {
    const batch = this.take();
    if (batch === undefined) return 0;
    let result: number | typeof skipped;
    try {
      result = await transactionOnce(this.db, this.jobKey, (trx) => this.write(trx, batch));
    } catch (err) {
      this.putBack(batch);
      throw err;
    }
    if (result !== skipped) return result;
    this.putBack(batch);
    return 0;
  }

  start(intervalMs = 5000): void {
    // A failed flush puts its batch back (see flush): the next interval writes it.
    this.timer ??= setInterval(() => void this.flush().catch(() => undefined), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
