import { AuditLog } from '../features/audit/service';
import { findUserByEmail } from '../features/auth/service';
import type { Mailer } from '../features/mail/service';
import { resetSecondFactors } from '../features/second-factors/service';
import { OpsError } from './errors';
import type { OpsDeps } from './create-operator';
import { CLI_ACTOR } from './create-operator';

export interface ResetFactorsResult {
  email: string;
  /** Authenticator apps removed (the recovery codes go with them). */
  removed: number;
  /** Passkeys removed. */
  passkeys: number;
}

/**
 * Removes every second factor (authenticator apps and passkeys) and recovery code of a user (a lost phone, and no operator can sign in
 * to do it on the company page): audited as the CLI, and mailed to the user through the outbox, which
 * the running server delivers. The user signs in with the password alone, or enrols at once if the
 * policy requires a second factor.
 */
export async function resetFactors(deps: Pick<OpsDeps, 'db' | 'clock' | 'publicUrl'> & { mailer: Mailer }, email: string): Promise<ResetFactorsResult> {
  const user = await findUserByEmail(deps, email);
  if (!user) throw new OpsError(`No account has the address ${email}.`);
  return resetSecondFactors({ ...deps, audit: new AuditLog(deps.db, deps.clock) }, user.id, CLI_ACTOR);
}
