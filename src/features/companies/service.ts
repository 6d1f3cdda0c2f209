import type { Db } from '../../db/open';
import { transaction } from '../../db/open';
import type { Clock } from '../../clock';
import { FieldError, HttpError, notFound } from '../../http/errors';
import type { Actor, AuditLog } from '../audit/service';
import * as authRepo from '../auth/repo';
import { issueInvitation } from '../auth/service';
import type { Mailer } from '../mail/service';
import { composeMail } from '../mail/service';
import { listScopes } from '../scopes/repo';
import * as repo from './repo';

export interface CompaniesDeps {
  db: Db;
  clock: Clock;
  audit: AuditLog;
  mailer: Mailer;
  publicUrl: string;
}

export function createCompany(deps: CompaniesDeps, name: string, actor: Actor): number {
  return transaction(deps.db, () => {
    if (repo.companyNameTaken(deps.db, name)) throw new FieldError('name', 'A company with this name already exists.');
    const id = authRepo.createCompany(deps.db, name, deps.clock.now());
    authRepo.grantAllScopes(deps.db, id);
    deps.audit.record(actor, { action: 'company.create', companyId: id, target: name });
    return id;
  });
}

export function getCompany(deps: CompaniesDeps, id: number) {
  const company = repo.findCompany(deps.db, id);
  if (!company) throw notFound();
  return {
    ...company,
    users: repo.listCompanyUsers(deps.db, id),
    scopes: listScopes(deps.db),
    grantedScopes: repo.listCompanyScopes(deps.db, id),
  };
}

export interface InvitationLink {
  email: string;
  link: string;
  expiresAt: number;
}

/** Creates an administrator without a password and a one-time link (72 h) to choose one; mailed too. */
export function inviteAdministrator(
  deps: CompaniesDeps,
  companyId: number,
  input: { email: string; isOperator: boolean },
  actor: Actor,
): InvitationLink {
  return transaction(deps.db, () => {
    const company = repo.findCompany(deps.db, companyId);
    if (!company) throw notFound();
    const existing = authRepo.findUserByEmail(deps.db, input.email);
    if (existing && (existing.companyId !== companyId || existing.passwordHash !== null)) {
      throw new FieldError('email', 'This address already has an account.');
    }
    const userId =
      existing?.id ??
      authRepo.createUser(deps.db, { companyId, email: input.email, passwordHash: null, isOperator: input.isOperator }, deps.clock.now());
    const { token, expiresAt } = issueInvitation(deps, userId, actor.userId);
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

function companyUser(deps: CompaniesDeps, companyId: number, userId: number): authRepo.UserRecord {
  const user = authRepo.findUserById(deps.db, userId);
  if (!user || user.companyId !== companyId) throw notFound();
  return user;
}

/** Disables a user and ends every session of theirs at once. */
export function disableUser(deps: CompaniesDeps, companyId: number, userId: number, actor: Actor): string {
  return transaction(deps.db, () => {
    const user = companyUser(deps, companyId, userId);
    if (user.id === actor.userId) throw new HttpError(409, 'cannot_disable_self', 'You cannot disable your own account.');
    if (user.disabledAt === null) {
      repo.setUserDisabled(deps.db, user.id, deps.clock.now());
      const sessions = authRepo.deleteUserSessions(deps.db, user.id);
      deps.audit.record(actor, { action: 'user.disable', companyId, target: user.email, details: { sessionsEnded: sessions } });
    }
    return user.email;
  });
}

export function enableUser(deps: CompaniesDeps, companyId: number, userId: number, actor: Actor): string {
  return transaction(deps.db, () => {
    const user = companyUser(deps, companyId, userId);
    if (user.disabledAt !== null) {
      repo.setUserDisabled(deps.db, user.id, null);
      deps.audit.record(actor, { action: 'user.enable', companyId, target: user.email });
    }
    return user.email;
  });
}

/** The scopes a company's administrators may put on their OAuth clients (a subset of the catalog). */
export function setCompanyScopes(deps: CompaniesDeps, companyId: number, scopes: string[], actor: Actor): void {
  transaction(deps.db, () => {
    if (!repo.findCompany(deps.db, companyId)) throw notFound();
    const catalog = new Set(listScopes(deps.db).map((s) => s.name));
    const unknown = scopes.filter((s) => !catalog.has(s));
    if (unknown.length) throw new FieldError('scopes', `Not in the scope catalog: ${unknown.slice(0, 5).join(', ')}.`);
    const unique = [...new Set(scopes)].sort();
    repo.replaceCompanyScopes(deps.db, companyId, unique);
    deps.audit.record(actor, { action: 'company.scopes', companyId, details: { scopes: unique } });
  });
}
