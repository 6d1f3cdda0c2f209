import type { Database } from '../../db/connect';
import { transaction } from '../../db/connect';
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
  const entries: CatalogEntry[] = [];
  for (const s of await repo.listScopeCatalog(deps.db)) {
    const credentialCount = await countLiveCredentialsWithScope(deps, s.name);
    entries.push({ ...s, credentialCount, usage: usageInWords(s.companyCount, credentialCount), deletable: s.companyCount === 0 && credentialCount === 0 });
  }
  return entries;
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
    const clients = await countLiveCredentialsWithScope({ db: trx }, name);
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
