import type { FieldErrors } from '../../http/validate';
import type { CurrentUser } from '../../http/auth';
import { notFound } from '../../http/errors';
import type { Actor } from '../audit/service';
import { listCompanyScopeDetails } from '../scopes/service';
import { usagePanels } from '../usage/service';
import type { UsagePanel } from '../usage/service';
import * as repo from './repo';
import type { CredentialKind, CredentialRow, CredentialStatus } from './repo';
import { DAY, formatUtcMinute } from '../../clock';
import type { CredentialsDeps, Generated } from './service';
import { credentialState, lifetimeDefault, lifetimePolicy, revokeCredential } from './service';
import { OVERLAP_CHOICES } from './schema';

/** What the API page's views need besides the credentials service. */
export interface ApiPageDeps extends CredentialsDeps {
  publicUrl: string;
  /** Writes the coalesced last-used times, so the page shows the latest. */
  flushLastUsed?: () => Promise<unknown>;
  /** Writes the uses counted in memory, so the usage charts show the latest. */
  flushUsage?: () => Promise<unknown>;
}

export interface AreaMessage {
  kind: 'success' | 'error' | 'info';
  text: string;
}

/** The words a credential of each kind is shown with, in the seed's terms (API key, Client ID, client secret). */
export interface KindWords {
  kindLabel: string;
  idLabel: string;
  secretLabel: string;
  revokeTitle: string;
  inUseCaption: string;
  noneInUse: string;
  endedCaption: string;
  /** The credential a Save replaces, in "When I save, the … in use now keeps working for". */
  replacedNoun: string;
  /** The credential itself in a sentence ("The API key", "The client credentials"). */
  theNoun: string;
  /** OAuth 2.0 clients carry scopes; API keys have none to show. */
  showsScopes: boolean;
}

const KIND_WORDS: Record<CredentialKind, KindWords> = {
  basic: {
    kindLabel: 'Basic Auth',
    idLabel: 'Username',
    secretLabel: 'API key',
    revokeTitle: 'Revoke API key?',
    inUseCaption: 'API keys in use',
    noneInUse: 'Your company has no API key in use.',
    endedCaption: 'Recently ended API keys',
    replacedNoun: 'key',
    theNoun: 'The API key',
    showsScopes: false,
  },
  oauth: {
    kindLabel: 'OAuth 2.0',
    idLabel: 'Client ID',
    secretLabel: 'Client secret',
    revokeTitle: 'Revoke client credentials?',
    inUseCaption: 'Client credentials in use',
    noneInUse: 'Your company has no client credentials in use.',
    endedCaption: 'Recently ended client credentials',
    replacedNoun: 'client',
    theNoun: 'The client credentials',
    showsScopes: true,
  },
};

const STATUS_LABEL: Record<CredentialStatus, string> = {
  pending: 'Not saved',
  active: 'Active',
  retiring: 'Overlap',
  retired: 'Replaced',
  revoked: 'Revoked',
  expired: 'Expired',
};

/** A credential as the pages show it: the row (never a secret) with the words it is shown with. */
export interface CredentialView extends CredentialRow, KindWords {
  statusLabel: string;
  /** The end of its overlap while it is in one (then it still works), else null. */
  worksUntil: number | null;
  /** A saved credential's expiry (the end of its lifetime), or null: it never expires, or it is not saved. */
  lifetimeEnd: number | null;
  /** In its overlap: "End overlap now" is offered. */
  canEndOverlap: boolean;
  createdByLabel: string;
  savedByLabel: string;
  revokedByLabel: string;
  /** The IP allowlist as the form shows it (one range per line) and in a few words. */
  allowlistText: string;
  allowlistSummary: string;
}

export function allowlistSummaryOf(allowedRanges: string): string {
  if (allowedRanges === '') return 'Any address may use it.';
  const ranges = allowedRanges.split(' ');
  return ranges.length === 1 ? `Only from ${ranges[0]}.` : `Only from ${ranges.length} ranges.`;
}

function credentialView<C extends CredentialRow>(c: C): C & CredentialView {
  return {
    ...c,
    ...KIND_WORDS[c.kind],
    statusLabel: STATUS_LABEL[c.status],
    worksUntil: c.status === 'retiring' ? c.retiresAt : null,
    lifetimeEnd: c.savedAt === null ? null : c.expiresAt,
    canEndOverlap: c.status === 'retiring',
    createdByLabel: c.createdByEmail ?? 'a removed user',
    savedByLabel: c.savedByEmail ?? 'a removed user',
    // No person: revoked by the console itself (a leak report, decision 0020); people are disabled, never deleted.
    revokedByLabel: c.revokedByEmail ?? 'The console',
    allowlistText: c.allowedRanges.split(' ').join('\n'),
    allowlistSummary: allowlistSummaryOf(c.allowedRanges),
  };
}

/** What one area (Basic Auth or OAuth 2.0) shows; the generated secret only in the generating response. */
export interface AreaModel {
  kind: CredentialKind;
  words: KindWords;
  /** The active credential, which a Save replaces. */
  active?: CredentialView;
  /** The working credentials (active first, then those in their overlap), each with its own last use. */
  working: CredentialView[];
  /** Each working credential's use (side by side during an overlap: the old one's last use and last caller). */
  usage: { credential: CredentialView; panel: UsagePanel }[];
  /** During an overlap: what the block of the old and new credentials' use (and End overlap now) says, else null. */
  overlap: { summary: string } | null;
  /** Recently ended ones, newest first. */
  history: CredentialView[];
  open: boolean;
  generated?: Generated;
  message?: AreaMessage;
  errors: FieldErrors;
  values: Record<string, string>;
  overlapChoices: typeof OVERLAP_CHOICES;
  /** The lifetimes the company allows at Save, the default checked. */
  lifetimeChoices: { value: string; label: string; checked: boolean }[];
  /** A warning for each working credential that expires within 14 days (the banner). */
  expiryWarnings: string[];
  /** An allowlist form that was refused: which credential's, why, and what was typed. */
  allowlist?: { id: number; error: string; value: string };
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

export type AreaExtras = Partial<Pick<AreaModel, 'generated' | 'message' | 'errors' | 'values' | 'open' | 'allowlist'>>;

/** How far ahead of a credential's expiry the API page warns about it. */
export const EXPIRY_BANNER_MS = 14 * DAY;

/** The Save form's lifetime choice: what the company allows, its default checked. */
async function lifetimeChoices(deps: CredentialsDeps, companyId: number): Promise<AreaModel['lifetimeChoices']> {
  const policy = await lifetimePolicy(deps, companyId);
  const chosen = lifetimeDefault(policy);
  return policy.allowed.map((days) => ({
    value: days === null ? 'none' : String(days),
    label: days === null ? 'Never expires' : `${days} days`,
    checked: days === chosen,
  }));
}

/**
 * During an overlap, the words above the old and new credentials' use shown side by side: until when
 * the previous one works, and what its going quiet means (End overlap now sits in its panel).
 */
function overlapView(working: CredentialView[]): AreaModel['overlap'] {
  const previous = working.filter((c) => c.canEndOverlap);
  if (previous.length === 0 || previous.length === working.length) return null;
  const noun = previous[0].replacedNoun;
  const until = (c: CredentialView) => `${c.identifier} (${c.secretPrefix}…) until ${formatUtcMinute(c.worksUntil!)}`;
  const summary =
    previous.length === 1
      ? `The previous ${noun} keeps working: ${until(previous[0])}. Its use and the new ${noun}'s are side by side below: once it goes quiet, your services have moved to the new ${noun}, and End overlap now stops it at once.`
      : `The previous ${noun}s keep working: ${previous.map(until).join('; ')}. Their use and the new ${noun}'s are side by side below: once one goes quiet, your services have moved off it, and End overlap now stops it at once.`;
  return { summary };
}

/** The banner's words for each working credential whose expiry is 14 days away or less. */
function expiryWarnings(working: CredentialView[], now: number): string[] {
  return working
    .filter((c) => c.expiresAt !== null && c.expiresAt > now && c.expiresAt - now <= EXPIRY_BANNER_MS && (c.worksUntil === null || c.expiresAt < c.worksUntil))
    .map((c) => {
      const days = Math.ceil((c.expiresAt! - now) / DAY);
      return `${c.theNoun} ${c.identifier} (${c.secretPrefix}…) expires on ${formatUtcMinute(c.expiresAt!)}, in ${days} day${days === 1 ? '' : 's'}. Generate and save a new one before then, with your development team, so that your services keep working.`;
    });
}

async function area(deps: ApiPageDeps, companyId: number, kind: CredentialKind, extras: AreaExtras): Promise<AreaModel> {
  await deps.flushLastUsed?.();
  await deps.flushUsage?.();
  const state = await credentialState(deps, companyId, kind);
  const working = (state.active ? [state.active, ...state.retiring] : state.retiring).map(credentialView);
  const warnings = expiryWarnings(working, deps.clock.now());
  const panels = await usagePanels(deps, working, (c) => `${KIND_WORDS[c.kind].secretLabel} ${c.secretPrefix}…`);
  const open =
    extras.open ?? Boolean(extras.generated || extras.message || extras.allowlist || warnings.length || (extras.errors && Object.keys(extras.errors).length));
  return {
    kind,
    words: KIND_WORDS[kind],
    active: state.active && credentialView(state.active),
    working,
    usage: working.map((credential, i) => ({ credential, panel: panels[i] })),
    overlap: overlapView(working),
    history: state.history.map(credentialView),
    errors: {},
    values: {},
    overlapChoices: OVERLAP_CHOICES,
    lifetimeChoices: await lifetimeChoices(deps, companyId),
    expiryWarnings: warnings,
    ...extras,
    open,
  };
}

export async function basicArea(deps: ApiPageDeps, companyId: number, extras: AreaExtras = {}): Promise<BasicAreaModel> {
  const model = await area(deps, companyId, 'basic', extras);
  // What is typed, else the username in use (the active one, or the one still in its overlap).
  return { ...model, username: model.values.username ?? model.working[0]?.identifier ?? '' };
}

export async function oauthArea(deps: ApiPageDeps, companyId: number, extras: AreaExtras & { chosenScopes?: string[] } = {}): Promise<OauthAreaModel> {
  const { chosenScopes, ...rest } = extras;
  const model = await area(deps, companyId, 'oauth', rest);
  const allowed = await listCompanyScopeDetails({ db: deps.db }, companyId);
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
export async function companyCredential(deps: CredentialsDeps, user: CurrentUser, id: number): Promise<CredentialView> {
  const credential = await repo.findCompanyCredential(deps.db, user.companyId, id);
  if (!credential || credential.status === 'pending') throw notFound();
  return credentialView(credential);
}

/** Operators: every company's working credentials, never a secret. */
export async function listWorkingCredentials(deps: CredentialsDeps): Promise<(CredentialView & { companyName: string })[]> {
  return (await repo.listAllWorkingCredentials(deps.db)).map(credentialView);
}

/** Operators: any company's credential (not a pending one: those are invisible until saved). */
export async function anyCredential(deps: CredentialsDeps, id: number): Promise<CredentialView> {
  const credential = await repo.findCredentialById(deps.db, id);
  if (!credential || credential.status === 'pending') throw notFound();
  return credentialView(credential);
}

/** Operators revoke in the credential's own company, with the same service (audit and notification). */
export async function revokeAnyCredential(deps: CredentialsDeps, id: number, reason: string, actor: Actor): Promise<CredentialRow> {
  const credential = await anyCredential(deps, id);
  return revokeCredential(deps, credential.companyId, id, reason, actor);
}
