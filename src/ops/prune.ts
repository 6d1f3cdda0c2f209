import type { Database } from '../db/connect';
import { skipped, transactionOnce } from '../db/connect';
import type { Clock } from '../clock';
import { DAY } from '../clock';
import { AuditLog, pruneAuditEntries } from '../features/audit/service';
import { pruneExpiredSessions } from '../features/auth/service';
import { pruneDeadGenerations, sweepCredentials } from '../features/credentials/service';
import type { Mailer } from '../features/mail/service';
import { CLI_ACTOR } from './create-operator';
import { UsageError } from './errors';
import { pruneExpiredRevocations } from '../platform/oauth/service';

export const DEFAULT_GENERATIONS_DAYS = 30;

export interface PruneOptions {
  /** Unsaved generations that lapsed more than this many days ago are deleted. */
  generationsDays?: number;
  /** Audit entries older than this many days are deleted; undefined keeps the whole trail. */
  auditDays?: number;
  /** Count only; change nothing. */
  dryRun?: boolean;
}

export interface PruneResult {
  generations: number;
  auditEntries: number;
  sessions: number;
  revokedTokens: number;
  dryRun: boolean;
}

export interface PruneDeps {
  db: Database;
  clock: Clock;
}

/** The key of the PostgreSQL advisory lock that lets one process prune while the others skip (transactionOnce). */
export const PRUNE_LOCK_KEY = 0x7072756e; // 'prun'

function checkDays(value: number | undefined, flag: string): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > 36500)) {
    throw new UsageError(`${flag} must be a whole number of days, 1-36500.`);
  }
}

/**
 * Housekeeping, safe while the server runs (one short write transaction): first the same sweep the
 * server runs (lapsed generations become 'expired', ended overlaps 'retired', each audited), then
 * deletes what can never matter again. Saved credentials, working or not, are history and stay.
 * Returns undefined, having done nothing, when another process is pruning the same PostgreSQL database.
 */
export async function prune(deps: PruneDeps, options: PruneOptions = {}): Promise<PruneResult | undefined> {
  const generationsDays = options.generationsDays ?? DEFAULT_GENERATIONS_DAYS;
  checkDays(generationsDays, '--generations-days');
  checkDays(options.auditDays, '--audit-days');
  const dryRun = options.dryRun === true;
  const now = deps.clock.now();
  const generationsCutoff = now - generationsDays * DAY;
  const auditCutoff = options.auditDays === undefined ? undefined : now - options.auditDays * DAY;
  // The sweep audits and sends no mail; a mailer that refuses keeps it that way.
  const noMail: Mailer = {
    send: () => Promise.reject(new Error('prune sends no mail')),
  };

  const result = await transactionOnce(deps.db, PRUNE_LOCK_KEY, async (trx) => {
    const audit = new AuditLog(trx, deps.clock);
    if (!dryRun) await sweepCredentials({ db: trx, clock: deps.clock, audit, mailer: noMail });
    const result: PruneResult = {
      generations: await pruneDeadGenerations({ db: trx }, generationsCutoff, dryRun),
      auditEntries: auditCutoff === undefined ? 0 : await pruneAuditEntries({ db: trx }, auditCutoff, dryRun),
      sessions: await pruneExpiredSessions({ db: trx }, now, dryRun),
      revokedTokens: await pruneExpiredRevocations(trx, now, dryRun),
      dryRun,
    };
    if (!dryRun) {
      await audit.record(
        CLI_ACTOR,
        {
          action: 'ops.prune',
          companyId: null,
          details: {
            generations: result.generations,
            auditEntries: result.auditEntries,
            sessions: result.sessions,
            revokedTokens: result.revokedTokens,
            generationsDays,
            auditDays: options.auditDays ?? null,
          },
        },
        trx,
      );
    }
    return result;
  });
  return result === skipped ? undefined : result;
}
