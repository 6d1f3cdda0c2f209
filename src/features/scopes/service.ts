import type { Db } from '../../db/open';
import { transaction } from '../../db/open';
import type { Clock } from '../../clock';
import { FieldError, HttpError, notFound } from '../../http/errors';
import type { Actor, AuditLog } from '../audit/service';
import { countCompaniesGrantingScope } from '../companies/service';
// Transitional: the synchronous version, until the scope catalog moves to Kysely (decision 0011).
import { countLiveCredentialsWithScopeSync as countLiveCredentialsWithScope } from '../credentials/legacy-sync';
import * as repo from './repo';
import type { ScopeRow } from './repo';

export interface ScopesDeps {
  db: Db;
  clock: Clock;
  audit: AuditLog;
}

export interface CatalogEntry extends ScopeRow {
  /** Pending or working client credentials that carry the scope. */
  credentialCount: number;
  /** How much it is in use, in words: "2 companies, 1 client", or "Unused". */
  usage: string;
  deletable: boolean;
}

const counted = (count: number, one: string, many: string): string => `${count} ${count === 1 ? one : many}`;

function usageInWords(companyCount: number, credentialCount: number): string {
  if (companyCount === 0 && credentialCount === 0) return 'Unused';
  const companies = counted(companyCount, 'company', 'companies');
  return credentialCount === 0 ? companies : `${companies}, ${counted(credentialCount, 'client', 'clients')}`;
}

/** The deployment's scope catalog, with how much each scope is in use. */
export function scopeCatalog(deps: ScopesDeps): CatalogEntry[] {
  return repo.listScopeCatalog(deps.db).map((s) => {
    const credentialCount = countLiveCredentialsWithScope(deps, s.name);
    return { ...s, credentialCount, usage: usageInWords(s.companyCount, credentialCount), deletable: s.companyCount === 0 && credentialCount === 0 };
  });
}

/** The catalog's scope names, sorted: what the authorization server advertises as scopes_supported. */
export function scopeNames(deps: Pick<ScopesDeps, 'db'>): string[] {
  return repo.listScopes(deps.db).map((s) => s.name);
}

export function addScope(deps: ScopesDeps, name: string, description: string, actor: Actor): void {
  transaction(deps.db, () => {
    if (repo.findScope(deps.db, name)) throw new FieldError('name', `The catalog already has a scope named ${name}.`);
    repo.insertScope(deps.db, name, description, deps.clock.now());
    deps.audit.record(actor, { action: 'scope.create', companyId: null, target: name, details: { description } });
  });
}

export function describeScope(deps: ScopesDeps, name: string, description: string, actor: Actor): void {
  transaction(deps.db, () => {
    const scope = repo.findScope(deps.db, name);
    if (!scope) throw notFound('There is no scope with this name in the catalog.');
    repo.updateScopeDescription(deps.db, name, description);
    deps.audit.record(actor, { action: 'scope.update', companyId: null, target: name, details: { from: scope.description, to: description } });
  });
}

/** A scope can leave the catalog only when no company may grant it and no live client carries it. */
export function removeScope(deps: ScopesDeps, name: string, actor: Actor): void {
  transaction(deps.db, () => {
    if (!repo.findScope(deps.db, name)) throw notFound('There is no scope with this name in the catalog.');
    const companies = countCompaniesGrantingScope(deps, name);
    if (companies > 0) {
      throw new HttpError(
        409,
        'scope_in_use',
        `${name} is still allowed for ${companies} ${companies === 1 ? 'company' : 'companies'}; remove it from their allowed scopes first.`,
      );
    }
    const clients = countLiveCredentialsWithScope(deps, name);
    if (clients > 0) {
      throw new HttpError(
        409,
        'scope_in_use',
        `${name} is still on ${clients} client ${clients === 1 ? 'credential' : 'credentials'} in use; they must be replaced or revoked first.`,
      );
    }
    repo.deleteScope(deps.db, name);
    deps.audit.record(actor, { action: 'scope.delete', companyId: null, target: name });
  });
}

// ------------------------------------------------------------------ for the other features

/** The deployment's scope catalog: every scope's name and description, by name. */
export function listScopes(deps: { db: Db }): { name: string; description: string }[] {
  return repo.listScopes(deps.db);
}

/** The catalog entries a company may grant, with their descriptions. */
export function listCompanyScopeDetails(deps: { db: Db }, companyId: number): { name: string; description: string }[] {
  return repo.listCompanyScopeDetails(deps.db, companyId);
}
