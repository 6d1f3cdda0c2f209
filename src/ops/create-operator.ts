import type { Database } from '../db/connect';
import { transaction } from '../db/connect';
import type { Clock } from '../clock';
import { AuditLog } from '../features/audit/service';
import { createUser, findUserByEmail, hashPassword, issueInvitation } from '../features/auth/service';
import { companyNameField, emailField, newPasswordField } from '../features/auth/schema';
import { OpsError, UsageError } from './errors';
import { createCompanyGrantingAllScopes, findCompanyByName, findFirstCompany } from '../features/companies/service';

/** Who did it, in the audit log: the command line of the host, not a signed-in person. */
export const CLI_ACTOR = { userId: null, label: 'operations CLI', ip: null, userAgent: null };

export interface OpsDeps {
  db: Database;
  clock: Clock;
  bcryptCost: number;
  publicUrl: string;
}

export interface CreateOperatorInput {
  email: string;
  /** The company the operator belongs to; created when no company has this name. Default: the first company. */
  company?: string;
  /** Set the password now (read from stdin by the CLI); without it a one-time link is issued. */
  password?: string;
}

export interface CreateOperatorResult {
  userId: number;
  companyId: number;
  companyName: string;
  companyCreated: boolean;
  /** The one-time link to choose a password (absent when a password was given). */
  link?: string;
  expiresAt?: number;
}

function parseField<T>(
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { message: string }[] } } },
  value: unknown,
  name: string,
): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new UsageError(`${name}: ${parsed.error.issues[0]?.message ?? 'not valid'}`);
  return parsed.data;
}

/** Creates an operator (the people who run the deployment), e.g. the first one, or after the last one left. */
export async function createOperator(deps: OpsDeps, input: CreateOperatorInput): Promise<CreateOperatorResult> {
  const email = parseField(emailField, input.email, '--email');
  const companyName = input.company === undefined ? undefined : parseField(companyNameField, input.company, '--company');
  const password = input.password === undefined ? undefined : parseField(newPasswordField, input.password, 'password');
  const passwordHash = password === undefined ? null : await hashPassword(deps, password);
  const audit = new AuditLog(deps.db, deps.clock);

  return transaction(deps.db, async (trx) => {
    const inTrx = { db: trx, clock: deps.clock };
    if (await findUserByEmail(inTrx, email)) throw new OpsError(`${email} already has an account. Use reset-password to give it a new password.`);
    const now = deps.clock.now();
    let company = companyName === undefined ? await findFirstCompany(inTrx) : await findCompanyByName(inTrx, companyName);
    let companyCreated = false;
    if (!company) {
      const name = companyName ?? 'Default company';
      const id = await createCompanyGrantingAllScopes(inTrx, name, now);
      await audit.record(CLI_ACTOR, { action: 'company.create', companyId: id, target: name }, trx);
      company = { id, name };
      companyCreated = true;
    }
    const userId = await createUser(inTrx, { companyId: company.id, email, passwordHash, isOperator: true }, now);
    await audit.record(
      CLI_ACTOR,
      { action: 'ops.create_operator', companyId: company.id, target: email, details: { passwordSet: passwordHash !== null } },
      trx,
    );
    const result: CreateOperatorResult = { userId, companyId: company.id, companyName: company.name, companyCreated };
    if (passwordHash === null) {
      const { token, expiresAt } = await issueInvitation(inTrx, userId, null);
      result.link = `${deps.publicUrl}/invitation?token=${token}`;
      result.expiresAt = expiresAt;
    }
    return result;
  });
}
