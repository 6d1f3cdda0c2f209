import { transaction } from '../db/connect';
import { AuditLog } from '../features/audit/service';
import { findUserByEmail, issueInvitation, lockUserAccount } from '../features/auth/service';
import { emailField } from '../features/auth/schema';
import { OpsError, UsageError } from './errors';
import type { OpsDeps } from './create-operator';
import { CLI_ACTOR } from './create-operator';

export interface ResetPasswordResult {
  email: string;
  link: string;
  expiresAt: number;
  /** Sessions ended (only with `lockNow`). */
  sessionsEnded: number;
}

/**
 * A one-time link (72 h) for the user to choose a new password; any earlier unused link stops working.
 * With `lockNow` the current password stops working at once and every session ends (a suspected
 * compromise); otherwise it keeps working until the link is used (a forgotten password).
 */
export function resetPassword(
  deps: Pick<OpsDeps, 'db' | 'clock' | 'publicUrl'>,
  emailInput: string,
  options: { lockNow?: boolean } = {},
): Promise<ResetPasswordResult> {
  const parsed = emailField.safeParse(emailInput);
  if (!parsed.success) throw new UsageError(`--email: ${parsed.error.issues[0]?.message ?? 'not valid'}`);
  const email = parsed.data;
  return transaction(deps.db, async (trx) => {
    const inTrx = { db: trx, clock: deps.clock };
    const user = await findUserByEmail(inTrx, email);
    if (!user) throw new OpsError(`No account has the address ${email}.`);
    if (user.disabledAt !== null) throw new OpsError(`${email} is disabled; enable the account on its company's page first.`);
    let sessionsEnded = 0;
    if (options.lockNow) {
      sessionsEnded = await lockUserAccount(inTrx, user.id);
    }
    const { token, expiresAt } = await issueInvitation(inTrx, user.id, null);
    await new AuditLog(trx, deps.clock).record(CLI_ACTOR, {
      action: 'ops.reset_password',
      companyId: user.companyId,
      target: email,
      details: { lockNow: options.lockNow === true, sessionsEnded },
    });
    return { email, link: `${deps.publicUrl}/invitation?token=${token}`, expiresAt, sessionsEnded };
  });
}
