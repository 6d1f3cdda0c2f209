import type { Config } from './config';
import type { Clock } from './clock';
import type { Database } from './db/connect';
import type { Logger } from './log';
import { AuditLog, SYSTEM_ACTOR } from './features/audit/service';
import { createFirstOperator, hasAnyUser, issueSetupToken } from './features/auth/service';

export type BootstrapResult = { kind: 'ready' } | { kind: 'created'; email: string } | { kind: 'setup'; link: string };

/**
 * First start on an empty database: ADMIN_EMAIL + ADMIN_PASSWORD create the first operator and
 * company; otherwise a one-time setup link is issued (the server prints it to its log).
 */
export async function bootstrap(config: Config, db: Database, clock: Clock, logger: Logger): Promise<BootstrapResult> {
  if (await hasAnyUser({ db })) return { kind: 'ready' };
  const deps = { db, clock, audit: new AuditLog(db, clock), bcryptCost: config.bcryptCost };
  if (config.adminEmail && config.adminPassword) {
    await createFirstOperator(deps, { companyName: config.companyName, email: config.adminEmail, password: config.adminPassword }, SYSTEM_ACTOR);
    logger.info({ email: config.adminEmail, company: config.companyName }, 'first operator created from ADMIN_EMAIL');
    return { kind: 'created', email: config.adminEmail };
  }
  const link = `${config.publicUrl}/setup?token=${await issueSetupToken(deps)}`;
  logger.warn(`No users yet. Open this one-time link to create the first operator: ${link}`);
  return { kind: 'setup', link };
}
