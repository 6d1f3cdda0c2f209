import type { Database } from '../../db/connect';
import { transaction } from '../../db/connect';
import type { Db } from '../../db/open';
import type { Clock } from '../../clock';
import { FieldError, HttpError, notFound } from '../../http/errors';
import type { Actor, AuditLog } from '../audit/service';
import { countCompaniesGrantingScope } from '../companies/service';
import { countLiveCredentialsWithScope } from '../credentials/service';
import * as repo from './repo';
import type { ScopeRow } from './repo';

export interface ScopesDeps {
  db: Database;
  clock: Clock;
  audit: AuditLog;
  /**
   * Transitional (decision 0011): the SQLite handle, for the companies' and credentials' counts that are
   * not on Kysely yet. On SQLite it is the same connection, so inside transaction() they read within it.
   */
  sqlite: Db;
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
export async function scopeCatalog(deps: ScopesDeps): Promise<CatalogEntry[]> {
  return (await repo.listScopeCatalog(deps.db)).map((s) => {
    const credentialCount = countLiveCredentialsWithScope({ db: deps.sqlite }, s.name);
    return { ...s, credentialCount, usage: usageInWords(s.companyCount, credentialCount), deletable: s.companyCount === 0 && credentialCount === 0 };
  });
}

/** The catalog's scope names, sorted: what the authorization server advertises as scopes_supported. */
export async function scopeNames(deps: { db: Database }): Promise<string[]> {
  return (await repo.listScopes(deps.db)).map((s) => s.name);
}

export async function addScope(deps: ScopesDeps, name: string, description: string, actor: Actor): Promise<void> {
  await transaction(deps.db, async (trx) => {
    if (await repo.findScope(trx, name)) throw new FieldError('name', `The catalog already has a scope named ${name}.`);
    await repo.insertScope(trx, name, description, deps.clock.now());
    await deps.audit.record(actor, { action: 'scope.create', companyId: null, target: name, details: { description } }, trx);
  });
}

export async function describeScope(deps: ScopesDeps, name: string, description: string, actor: Actor): Promise<void> {
  await transaction(deps.db, async (trx) => {
    const scope = await repo.findScope(trx, name);
    if (!scope) throw notFound('There is no scope with this name in the catalog.');
    await repo.updateScopeDescription(trx, name, description);
    await deps.audit.record(actor, { action: 'scope.update', companyId: null, target: name, details: { from: scope.description, to: description } }, trx);
  });
}

/** A scope can leave the catalog only when no company may grant it and no live client carries it. */
export async function removeScope(deps: ScopesDeps, name: string, actor: Actor): Promise<void> {
  await transaction(deps.db, async (trx) => {
    if (!(await repo.findScope(trx, name))) throw notFound('There is no scope with this name in the catalog.');
    const companies = await countCompaniesGrantingScope({ db: trx }, name);
    if (companies > 0) {
      throw new HttpError(
        409,
        'scope_in_use',
        `${name} is still allowed for ${companies} ${companies === 1 ? 'company' : 'companies'}; remove it from their allowed scopes first.`,
      );
    }
    const clients = countLiveCredentialsWithScope({ db: deps.sqlite }, name);
    if (clients > 0) {
      throw new HttpError(
        409,
        'scope_in_use',
        `${name} is still on ${clients} client ${clients === 1 ? 'credential' : 'credentials'} in use; they must be replaced or revoked first.`,
      );
    }
    await repo.deleteScope(trx, name);
    await deps.audit.record(actor, { action: 'scope.delete', companyId: null, target: name }, trx);
  });
}

// ------------------------------------------------------------------ for the other features

/** The deployment's scope catalog: every scope's name and description, by name. */
export async function listScopes(deps: { db: Database }): Promise<{ name: string; description: string }[]> {
  return repo.listScopes(deps.db);
}

/** The catalog entries a company may grant, with their descriptions. */
export async function listCompanyScopeDetails(deps: { db: Database }, companyId: number): Promise<{ name: string; description: string }[]> {
  return repo.listCompanyScopeDetails(deps.db, companyId);
}

/** Transitional (decision 0011): listScopes on the SQLite handle, for callers not yet on Kysely. */
export function listScopesSync(deps: { db: Db }): { name: string; description: string }[] {
  return repo.listScopesSync(deps.db);
}

/** Transitional (decision 0011): listCompanyScopeDetails on the SQLite handle, for callers not yet on Kysely. */
export function listCompanyScopeDetailsSync(deps: { db: Db }, companyId: number): { name: string; description: string }[] {
  return repo.listCompanyScopeDetailsSync(deps.db, companyId);
}

/** Transitional (decision 0011): scopeNames on the SQLite handle, for callers not yet on Kysely. */
export function scopeNamesSync(deps: { db: Db }): string[] {
  return repo.listScopesSync(deps.db).map((s) => s.name);
}
