import type { Db } from '../../db/open';
import { transaction } from '../../db/open';
import type { Clock } from '../../clock';
import { FieldError, HttpError, notFound } from '../../http/errors';
import type { Actor, AuditLog } from '../audit/service';
import * as auth from '../auth/service';
import type { Mailer } from '../mail/service';
import { composeMail } from '../mail/service';
import { listScopesSync } from '../scopes/service';
import * as repo from './repo';

export interface CompaniesDeps {
  db: Db;
  clock: Clock;
  audit: AuditLog;
  mailer: Mailer;
  publicUrl: string;
}

export type { CompanySummary } from './repo';

export function listCompanies(deps: { db: Db }): repo.CompanySummary[] {
  return repo.listCompanies(deps.db);
}

/** A new company may grant every scope in the catalog (first start, the CLI, the operator's form). */
export function createCompanyGrantingAllScopes(deps: { db: Db }, name: string, now: number): number {
  const id = repo.insertCompany(deps.db, name, now);
  repo.grantAllScopes(deps.db, id);
  return id;
}

export function createCompany(deps: CompaniesDeps, name: string, actor: Actor): number {
  return transaction(deps.db, () => {
    if (repo.companyNameTaken(deps.db, name)) throw new FieldError('name', 'A company with this name already exists.');
    const id = createCompanyGrantingAllScopes(deps, name, deps.clock.now());
    deps.audit.record(actor, { action: 'company.create', companyId: id, target: name });
    return id;
  });
}

/** A user row of the company page, with its role and status in words. */
export interface CompanyUserView extends auth.CompanyUser {
  roleLabel: 'Operator' | 'Administrator';
  statusLabel: 'Disabled' | 'Invited' | 'Active';
}

function userView(user: auth.CompanyUser): CompanyUserView {
  const statusLabel = user.disabledAt ? 'Disabled' : !user.hasPassword ? 'Invited' : 'Active';
  return { ...user, roleLabel: user.isOperator ? 'Operator' : 'Administrator', statusLabel };
}

export function getCompany(deps: CompaniesDeps, id: number) {
  const company = repo.findCompany(deps.db, id);
  if (!company) throw notFound();
  return {
    ...company,
    users: auth.listCompanyUsers(deps, id).map(userView),
    scopes: listScopesSync(deps),
    grantedScopes: repo.listCompanyScopes(deps.db, id),
  };
}

export interface InvitationLink {
  email: string;
  link: string;
  expiresAt: number;
}

/** Creates an administrator without a password and a one-time link (72 h) to choose one; mailed too. */
export function inviteAdministrator(deps: CompaniesDeps, companyId: number, input: { email: string; isOperator: boolean }, actor: Actor): InvitationLink {
  return transaction(deps.db, () => {
    const company = repo.findCompany(deps.db, companyId);
    if (!company) throw notFound();
    const existing = auth.findUserByEmail(deps, input.email);
    if (existing && (existing.companyId !== companyId || existing.passwordHash !== null)) {
      throw new FieldError('email', 'This address already has an account.');
    }
    const userId = existing?.id ?? auth.createUser(deps, { companyId, email: input.email, passwordHash: null, isOperator: input.isOperator }, deps.clock.now());
    const { token, expiresAt } = auth.issueInvitation(deps, userId, actor.userId);
    const link = `${deps.publicUrl}/invitation?token=${token}`;
    deps.mailer.send(composeMail('invitation', input.email, companyId, { companyName: company.name, inviter: actor.label, link, expiresAt }, [token]));
    deps.audit.record(actor, {
      action: 'user.invite',
      companyId,
      target: input.email,
      details: { operator: input.isOperator, resent: existing !== undefined },
    });
    return { email: input.email, link, expiresAt };
  });
}

function companyUser(deps: CompaniesDeps, companyId: number, userId: number): auth.UserRecord {
  const user = auth.findUserById(deps, userId);
  if (!user || user.companyId !== companyId) throw notFound();
  return user;
}

/** Disables a user and ends every session of theirs at once. */
export function disableUser(deps: CompaniesDeps, companyId: number, userId: number, actor: Actor): string {
  return transaction(deps.db, () => {
    const user = companyUser(deps, companyId, userId);
    if (user.id === actor.userId) throw new HttpError(409, 'cannot_disable_self', 'You cannot disable your own account.');
    if (user.disabledAt === null) {
      const sessions = auth.disableUserAccount(deps, user.id);
      deps.audit.record(actor, { action: 'user.disable', companyId, target: user.email, details: { sessionsEnded: sessions } });
    }
    return user.email;
  });
}

export function enableUser(deps: CompaniesDeps, companyId: number, userId: number, actor: Actor): string {
  return transaction(deps.db, () => {
    const user = companyUser(deps, companyId, userId);
    if (user.disabledAt !== null) {
      auth.enableUserAccount(deps, user.id);
      deps.audit.record(actor, { action: 'user.enable', companyId, target: user.email });
    }
    return user.email;
  });
}

/** The scopes a company's administrators may put on their OAuth clients (a subset of the catalog). */
export function setCompanyScopes(deps: CompaniesDeps, companyId: number, scopes: string[], actor: Actor): void {
  transaction(deps.db, () => {
    if (!repo.findCompany(deps.db, companyId)) throw notFound();
    const catalog = new Set(listScopesSync(deps).map((s) => s.name));
    const unknown = scopes.filter((s) => !catalog.has(s));
    if (unknown.length) throw new FieldError('scopes', `Not in the scope catalog: ${unknown.slice(0, 5).join(', ')}.`);
    const unique = [...new Set(scopes)].sort();
    repo.replaceCompanyScopes(deps.db, companyId, unique);
    deps.audit.record(actor, { action: 'company.scopes', companyId, details: { scopes: unique } });
  });
}

// ------------------------------------------------------------------ for the other features and the CLI

export function findCompanyByName(deps: { db: Db }, name: string): { id: number; name: string } | undefined {
  return repo.findCompanyByName(deps.db, name);
}

export function findFirstCompany(deps: { db: Db }): { id: number; name: string } | undefined {
  return repo.findFirstCompany(deps.db);
}

export function findCompanyName(deps: { db: Db }, companyId: number): string | undefined {
  return repo.findCompanyName(deps.db, companyId);
}

/** The scopes a company may grant (a subset of the catalog). */
export function listCompanyScopes(deps: { db: Db }, companyId: number): string[] {
  return repo.listCompanyScopes(deps.db, companyId);
}

export function countCompaniesGrantingScope(deps: { db: Db }, scope: string): number {
  return repo.countCompaniesGrantingScope(deps.db, scope);
}
