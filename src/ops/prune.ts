import type { Db } from '../db/open';
import { transaction } from '../db/open';
import type { Clock } from '../clock';
import { DAY } from '../clock';
import { AuditLog, pruneAuditEntries } from '../features/audit/service';
import { pruneExpiredSessions } from '../features/auth/service';
// Transitional: the synchronous versions, until prune moves to Kysely (decision 0011).
import { pruneDeadGenerationsSync as pruneDeadGenerations, sweepCredentialsSync as sweepCredentials } from '../features/credentials/legacy-sync';
import type { Mailer } from '../features/mail/service';
import { CLI_ACTOR } from './create-operator';
import { UsageError } from './errors';
// The platform API has no service for its revocation list yet (issue 12 moves oauth into src/platform/).
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

function checkDays(value: number | undefined, flag: string): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > 36500)) {
    throw new UsageError(`${flag} must be a whole number of days, 1-36500.`);
  }
}

/**
 * Housekeeping, safe while the server runs (one short write transaction): first the same sweep the
 * server runs (lapsed generations become 'expired', ended overlaps 'retired', each audited), then
 * deletes what can never matter again. Saved credentials, working or not, are history and stay.
 */
export function prune(deps: { db: Db; clock: Clock }, options: PruneOptions = {}): PruneResult {
  const generationsDays = options.generationsDays ?? DEFAULT_GENERATIONS_DAYS;
  checkDays(generationsDays, '--generations-days');
  checkDays(options.auditDays, '--audit-days');
  const dryRun = options.dryRun === true;
  const now = deps.clock.now();
  const generationsCutoff = now - generationsDays * DAY;
  const auditCutoff = options.auditDays === undefined ? undefined : now - options.auditDays * DAY;
  const audit = new AuditLog(deps.db, deps.clock);
  // The sweep audits and sends no mail; a mailer that refuses keeps it that way.
  const noMail: Mailer = {
    send: () => {
      throw new Error('prune sends no mail');
    },
  };

  return transaction(deps.db, () => {
    if (!dryRun) sweepCredentials({ db: deps.db, clock: deps.clock, audit, mailer: noMail });
    const result: PruneResult = {
      generations: pruneDeadGenerations(deps, generationsCutoff, dryRun),
      auditEntries: auditCutoff === undefined ? 0 : pruneAuditEntries(deps, auditCutoff, dryRun),
      sessions: pruneExpiredSessions(deps, now, dryRun),
      revokedTokens: pruneExpiredRevocations(deps.db, now, dryRun),
      dryRun,
    };
    if (!dryRun) {
      audit.record(CLI_ACTOR, {
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
      });
    }
    return result;
  });
}
