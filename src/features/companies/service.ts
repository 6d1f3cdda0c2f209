import type { Database } from '../../db/connect';
import { transaction } from '../../db/connect';
import type { Clock } from '../../clock';
import { FieldError, HttpError, notFound } from '../../http/errors';
import type { Actor, AuditLog } from '../audit/service';
import * as auth from '../auth/service';
import type { Mailer } from '../mail/service';
import { composeMail } from '../mail/service';
import { listScopes } from '../scopes/service';
import * as repo from './repo';

export interface CompaniesDeps {
  db: Database;
  clock: Clock;
  audit: AuditLog;
  mailer: Mailer;
  publicUrl: string;
}

export type { CompanySummary } from './repo';

export function listCompanies(deps: { db: Database }): Promise<repo.CompanySummary[]> {
  return repo.listCompanies(deps.db);
}

/** A new company may grant every scope in the catalog (first start, the CLI, the operator's form). */
export async function createCompanyGrantingAllScopes(deps: { db: Database }, name: string, now: number): Promise<number> {
  return transaction(deps.db, async (trx) => {
    const id = await repo.insertCompany(trx, name, now);
    await repo.grantAllScopes(trx, id);
    return id;
  });
}

export function createCompany(deps: CompaniesDeps, name: string, actor: Actor): Promise<number> {
  return transaction(deps.db, async (trx) => {
    if (await repo.companyNameTaken(trx, name)) throw new FieldError('name', 'A company with this name already exists.');
    const id = await createCompanyGrantingAllScopes({ db: trx }, name, deps.clock.now());
    await deps.audit.record(actor, { action: 'company.create', companyId: id, target: name }, trx);
    return id;
  });
}

/** A user row of the company page, with its role and status in words, and the button that turns it on or off. */
export interface CompanyUserView extends auth.CompanyUser {
  roleLabel: 'Operator' | 'Administrator';
  statusLabel: 'Disabled' | 'Invited' | 'Active';
  toggle: { action: 'enable' | 'disable'; label: 'Enable' | 'Disable'; style: 'secondary' | 'danger' };
}

export function userView(user: auth.CompanyUser): CompanyUserView {
  const statusLabel = user.disabledAt ? 'Disabled' : !user.hasPassword ? 'Invited' : 'Active';
  const toggle = user.disabledAt
    ? ({ action: 'enable', label: 'Enable', style: 'secondary' } as const)
    : ({ action: 'disable', label: 'Disable', style: 'danger' } as const);
  return { ...user, roleLabel: user.isOperator ? 'Operator' : 'Administrator', statusLabel, toggle };
}

/** The lifetimes an administrator may give a credential at Save, in days (or none, where the company allows it). */
export const CREDENTIAL_LIFETIME_DAYS = [30, 90, 180, 365] as const;
export type CredentialLifetimeDays = (typeof CREDENTIAL_LIFETIME_DAYS)[number];

/** The operator's choice of a company's maximum credential lifetime, in words, with the current one checked. */
function lifetimePolicyChoices(max: number | null): { value: string; label: string; checked: boolean }[] {
  return [
    { value: 'none', label: 'No maximum: administrators may also save credentials that never expire', checked: max === null },
    ...CREDENTIAL_LIFETIME_DAYS.map((days) => ({ value: String(days), label: `${days} days`, checked: max === days })),
  ];
}

export async function getCompany(deps: CompaniesDeps, id: number) {
  const company = await repo.findCompany(deps.db, id);
  if (!company) throw notFound();
  const maxLifetime = await repo.findMaxCredentialLifetime(deps.db, id);
  return {
    ...company,
    lifetimePolicyChoices: lifetimePolicyChoices(maxLifetime),
    users: (await auth.listCompanyUsers(deps, id)).map(userView),
    scopes: await listScopes({ db: deps.db }),
    grantedScopes: await repo.listCompanyScopes(deps.db, id),
    leakPolicyChoices: LEAK_POLICY_CHOICES.map((c) => ({ ...c, checked: c.value === company.leakPolicy })),
  };
}

/** What a leak report (POST /api/v1/credentials/leaked) does to this company's credentials, in the operator's words. */
const LEAK_POLICY_CHOICES: { value: repo.LeakPolicy; label: string }[] = [
  { value: 'revoke', label: 'Revoke at once, and tell the administrators (recommended)' },
  { value: 'report', label: 'Only tell the administrators: the credential keeps working until they revoke it' },
];

export async function setLeakPolicy(deps: CompaniesDeps, companyId: number, policy: repo.LeakPolicy, actor: Actor): Promise<void> {
  await transaction(deps.db, async (trx) => {
    const company = await repo.findCompany(trx, companyId);
    if (!company) throw notFound();
    await repo.updateLeakPolicy(trx, companyId, policy);
    await deps.audit.record(actor, { action: 'company.leak_policy', companyId, details: { before: company.leakPolicy, after: policy } }, trx);
  });
}

export interface InvitationLink {
  email: string;
  link: string;
  expiresAt: number;
}

/** Creates an administrator without a password and a one-time link (72 h) to choose one; mailed too. */
export async function inviteAdministrator(
  deps: CompaniesDeps,
  companyId: number,
  input: { email: string; isOperator: boolean },
  actor: Actor,
): Promise<InvitationLink> {
  const invitation = await transaction(deps.db, async (trx) => {
    const inTrx = { db: trx, clock: deps.clock };
    const company = await repo.findCompany(trx, companyId);
    if (!company) throw notFound();
    const existing = await auth.findUserByEmail(inTrx, input.email);
    if (existing && (existing.companyId !== companyId || existing.passwordHash !== null)) {
      throw new FieldError('email', 'This address already has an account.');
    }
    const userId =
      existing?.id ?? (await auth.createUser(inTrx, { companyId, email: input.email, passwordHash: null, isOperator: input.isOperator }, deps.clock.now()));
    const { token, expiresAt } = await auth.issueInvitation(inTrx, userId, actor.userId);
    const link = `${deps.publicUrl}/invitation?token=${token}`;
    await deps.mailer.send(
      composeMail('invitation', input.email, companyId, { companyName: company.name, inviter: actor.label, link, expiresAt }, [token]),
      trx,
    );
    await deps.audit.record(
      actor,
      {
        action: 'user.invite',
        companyId,
        target: input.email,
        details: { operator: input.isOperator, resent: existing !== undefined },
      },
      trx,
    );
    return { email: input.email, link, expiresAt };
  });
  deps.mailer.wake?.(); // the invitation is in the outbox now that it committed
  return invitation;
}

async function companyUser(deps: { db: Database }, companyId: number, userId: number): Promise<auth.UserRecord> {
  const user = await auth.findUserById(deps, userId);
  if (!user || user.companyId !== companyId) throw notFound();
  return user;
}

/** Disables a user and ends every session of theirs at once. */
export function disableUser(deps: CompaniesDeps, companyId: number, userId: number, actor: Actor): Promise<string> {
  return transaction(deps.db, async (trx) => {
    const user = await companyUser({ db: trx }, companyId, userId);
    if (user.id === actor.userId) throw new HttpError(409, 'cannot_disable_self', 'You cannot disable your own account.');
    if (user.disabledAt === null) {
      const sessions = await auth.disableUserAccount({ db: trx, clock: deps.clock }, user.id);
      await deps.audit.record(actor, { action: 'user.disable', companyId, target: user.email, details: { sessionsEnded: sessions } }, trx);
    }
    return user.email;
  });
}

export function enableUser(deps: CompaniesDeps, companyId: number, userId: number, actor: Actor): Promise<string> {
  return transaction(deps.db, async (trx) => {
    const user = await companyUser({ db: trx }, companyId, userId);
    if (user.disabledAt !== null) {
      await auth.enableUserAccount({ db: trx }, user.id);
      await deps.audit.record(actor, { action: 'user.enable', companyId, target: user.email }, trx);
    }
    return user.email;
  });
}

/** The scopes a company's administrators may put on their OAuth clients (a subset of the catalog). */
export async function setCompanyScopes(deps: CompaniesDeps, companyId: number, scopes: string[], actor: Actor): Promise<void> {
  await transaction(deps.db, async (trx) => {
    if (!(await repo.findCompany(trx, companyId))) throw notFound();
    const catalog = new Set((await listScopes({ db: trx })).map((s) => s.name));
    const unknown = scopes.filter((s) => !catalog.has(s));
    if (unknown.length) throw new FieldError('scopes', `Not in the scope catalog: ${unknown.slice(0, 5).join(', ')}.`);
    const unique = [...new Set(scopes)].sort();
    await repo.replaceCompanyScopes(trx, companyId, unique);
    await deps.audit.record(actor, { action: 'company.scopes', companyId, details: { scopes: unique } }, trx);
  });
}

/**
 * The longest lifetime the company's administrators may give a credential at Save (null: no maximum,
 * "never expires" allowed). Credentials already saved keep the expiry they were saved with.
 */
export async function setMaxCredentialLifetime(deps: CompaniesDeps, companyId: number, days: CredentialLifetimeDays | null, actor: Actor): Promise<void> {
  await transaction(deps.db, async (trx) => {
    if (!(await repo.findCompany(trx, companyId))) throw notFound();
    await repo.setMaxCredentialLifetime(trx, companyId, days);
    await deps.audit.record(actor, { action: 'company.credential_lifetime', companyId, details: { maxDays: days } }, trx);
  });
}

// ------------------------------------------------------------------ for the other features and the CLI

/** The company's maximum credential lifetime in days; null: no maximum. */
export function findMaxCredentialLifetime(deps: { db: Database }, companyId: number): Promise<number | null> {
  return repo.findMaxCredentialLifetime(deps.db, companyId);
}

export function findCompanyByName(deps: { db: Database }, name: string): Promise<{ id: number; name: string } | undefined> {
  return repo.findCompanyByName(deps.db, name);
}

export function findFirstCompany(deps: { db: Database }): Promise<{ id: number; name: string } | undefined> {
  return repo.findFirstCompany(deps.db);
}

export function findCompanyName(deps: { db: Database }, companyId: number): Promise<string | undefined> {
  return repo.findCompanyName(deps.db, companyId);
}

/** The scopes a company may grant (a subset of the catalog). */
export function listCompanyScopes(deps: { db: Database }, companyId: number): Promise<string[]> {
  return repo.listCompanyScopes(deps.db, companyId);
}

export function countCompaniesGrantingScope(deps: { db: Database }, scope: string): Promise<number> {
  return repo.countCompaniesGrantingScope(deps.db, scope);
}
