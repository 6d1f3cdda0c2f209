import type { FieldErrors } from '../../http/validate';
import type { CurrentUser } from '../../http/auth';
import { notFound } from '../../http/errors';
import type { Actor } from '../audit/service';
import { listCompanyScopeDetails } from '../scopes/repo';
import * as repo from './repo';
import type { CredentialKind, CredentialRow } from './repo';
import type { CredentialsDeps, Generated, KindState } from './service';
import { credentialState, revokeCredential } from './service';
import { OVERLAP_CHOICES } from './schema';

/** What the API page's views need besides the credentials service. */
export interface ApiPageDeps extends CredentialsDeps {
  publicUrl: string;
  /** Writes the coalesced last-used times, so the page shows the latest. */
  flushLastUsed?: () => void;
}

export interface AreaMessage {
  kind: 'success' | 'error' | 'info';
  text: string;
}

/** What one area (Basic Auth or OAuth 2.0) shows; the generated secret only in the generating response. */
export interface AreaModel {
  state: KindState;
  /** The working credentials (active first, then those in their overlap), each with its own last use. */
  working: CredentialRow[];
  open: boolean;
  generated?: Generated;
  message?: AreaMessage;
  errors: FieldErrors;
  values: Record<string, string>;
  overlapChoices: typeof OVERLAP_CHOICES;
}

export interface BasicAreaModel extends AreaModel {
  /** The username the Generate form proposes: what was typed, else the one in use. */
  username: string;
}

export interface OauthAreaModel extends AreaModel {
  grantType: 'client_credentials';
  tokenUrl: string;
  scopeChoices: { name: string; description: string; checked: boolean }[];
}

export type AreaExtras = Partial<Pick<AreaModel, 'generated' | 'message' | 'errors' | 'values' | 'open'>>;

function area(deps: ApiPageDeps, companyId: number, kind: CredentialKind, extras: AreaExtras): AreaModel {
  deps.flushLastUsed?.();
  const state = credentialState(deps, companyId, kind);
  const working = state.active ? [state.active, ...state.retiring] : state.retiring;
  const open = extras.open ?? Boolean(extras.generated || extras.message || (extras.errors && Object.keys(extras.errors).length));
  return { state, working, errors: {}, values: {}, overlapChoices: OVERLAP_CHOICES, ...extras, open };
}

export function basicArea(deps: ApiPageDeps, companyId: number, extras: AreaExtras = {}): BasicAreaModel {
  const model = area(deps, companyId, 'basic', extras);
  const inUse = model.state.active ?? model.state.retiring[0];
  return { ...model, username: model.values.username ?? inUse?.identifier ?? '' };
}

export function oauthArea(deps: ApiPageDeps, companyId: number, extras: AreaExtras & { chosenScopes?: string[] } = {}): OauthAreaModel {
  const { chosenScopes, ...rest } = extras;
  const model = area(deps, companyId, 'oauth', rest);
  const allowed = listCompanyScopeDetails(deps.db, companyId);
  return {
    ...model,
    grantType: 'client_credentials',
    tokenUrl: tokenUrl(deps.publicUrl),
    scopeChoices: allowed.map((s) => ({ ...s, checked: chosenScopes ? chosenScopes.includes(s.name) : true })),
  };
}

/** The absolute token endpoint: the same value as token_endpoint in the authorization server metadata. */
export function tokenUrl(publicUrl: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/oauth/token`;
}

/** A credential of the signed-in user's company, for the revoke confirmation; another company's is 404. */
export function companyCredential(deps: CredentialsDeps, user: CurrentUser, id: number): CredentialRow {
  const credential = repo.findCompanyCredential(deps.db, user.companyId, id);
  if (!credential || credential.status === 'pending') throw notFound();
  return credential;
}

/** Operators: every company's working credentials, never a secret. */
export function listWorkingCredentials(deps: CredentialsDeps): (CredentialRow & { companyName: string })[] {
  return repo.listAllWorkingCredentials(deps.db);
}

/** Operators: any company's credential (not a pending one: those are invisible until saved). */
export function anyCredential(deps: CredentialsDeps, id: number): CredentialRow {
  const credential = repo.findCredentialById(deps.db, id);
  if (!credential || credential.status === 'pending') throw notFound();
  return credential;
}

/** Operators revoke in the credential's own company, with the same service (audit and notification). */
export function revokeAnyCredential(deps: CredentialsDeps, id: number, reason: string, actor: Actor): CredentialRow {
  const credential = anyCredential(deps, id);
  return revokeCredential(deps, credential.companyId, id, reason, actor);
}
