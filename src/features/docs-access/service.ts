import type { Clock } from '../../clock';
import { DAY } from '../../clock';
import { paginate } from '../../http/pagination';
import type { Config } from '../../config';
import { randomToken, sha256 } from '../../crypto';
import type { Db } from '../../db/open';
import { transaction } from '../../db/open';
import type { CurrentUser } from '../../http/auth';
import { FieldError, HttpError, notFound } from '../../http/errors';
import type { FieldErrors } from '../../http/validate';
import type { Actor, AuditLog } from '../audit/service';
import { composeMail } from '../mail/service';
import type { Mailer } from '../mail/service';
import { listScopesSync } from '../scopes/service';
import * as repo from './repo';
import type { AccessRequestFilter, AccessRequestRow, AccessStatus } from './repo';

export interface DocsAccessDeps {
  db: Db;
  clock: Clock;
  audit: AuditLog;
  mailer: Mailer;
  config: Pick<Config, 'publicUrl' | 'accessTokenTtl'>;
}

/** How long the personal documentation link in a grant email works. */
export const DOCS_LINK_TTL_MS = 30 * DAY;
const AREA_HISTORY = 20;

export const STATUS_LABEL: Record<AccessStatus, string> = { pending: 'Pending', granted: 'Granted', denied: 'Denied', revoked: 'Revoked' };

// ---------------------------------------------------------------------------------------------
// The area on the API page: Request Access -> Email -> Next -> confirm (Back | Request Access).

export type AreaStep = 'start' | 'email' | 'confirm';

export interface DocsAccessArea {
  step: AreaStep;
  values: { email: string };
  errors: FieldErrors;
  notice: { kind: 'success' | 'info'; message: string } | null;
  /** The company's requests, pending first, each with its status and dates. */
  requests: AccessRequestRow[];
  /** The signed-in user's own address holds a grant: the area links to the documentation. */
  canReadDocs: boolean;
  /** Rendered open (after a step or on the area's own page); the API page shows it closed. */
  open: boolean;
  statusLabel: Record<AccessStatus, string>;
}

export interface AreaState {
  step?: AreaStep;
  values?: { email?: string };
  errors?: FieldErrors;
  notice?: DocsAccessArea['notice'];
  open?: boolean;
}

/** The view model of the documentation-access area for the signed-in user's company. */
export function docsAccessArea(deps: { db: Db; clock: Clock }, user: CurrentUser, state: AreaState = {}): DocsAccessArea {
  return {
    step: state.step ?? 'start',
    values: { email: state.values?.email ?? user.email },
    errors: state.errors ?? {},
    notice: state.notice ?? null,
    requests: repo.listCompanyAccessRequests(deps.db, user.companyId, AREA_HISTORY),
    canReadDocs: repo.emailHasGrant(deps.db, user.email),
    open: state.open ?? false,
    statusLabel: STATUS_LABEL,
  };
}

function duplicateMessage(existing: AccessRequestRow): string {
  const since = new Date(existing.decidedAt ?? existing.createdAt).toISOString().slice(0, 10);
  return existing.status === 'pending'
    ? `A request for ${existing.email} is already pending (sent ${since}). You will be notified when it is decided.`
    : `${existing.email} already has access to the documentation (granted ${since}).`;
}

/** The Next step's check: the address must not already have an open request from this company. */
export function checkRequestable(deps: { db: Db }, user: CurrentUser, email: string): void {
  const existing = repo.findOpenAccessRequest(deps.db, user.companyId, email);
  if (existing) throw new FieldError('email', duplicateMessage(existing));
}

export class DuplicateRequest extends HttpError {
  constructor(readonly existing: AccessRequestRow) {
    super(409, 'already_requested', duplicateMessage(existing));
  }
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string })?.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** Records a pending request for `email` from the user's company (at most one open request per address). */
export function requestAccess(deps: DocsAccessDeps, user: CurrentUser, email: string, actor: Actor): AccessRequestRow {
  try {
    return transaction(deps.db, () => {
      const existing = repo.findOpenAccessRequest(deps.db, user.companyId, email);
      if (existing) throw new DuplicateRequest(existing);
      const id = repo.insertAccessRequest(deps.db, user.companyId, email, user.id, deps.clock.now());
      deps.audit.record(actor, { action: 'docs_access.request', companyId: user.companyId, target: email, details: { requestId: id } });
      return repo.findAccessRequest(deps.db, id)!;
    });
  } catch (err) {
    // Two submits racing past the check: the partial unique index stops the second one.
    if (!isUniqueViolation(err)) throw err;
    const existing = repo.findOpenAccessRequest(deps.db, user.companyId, email);
    if (!existing) throw err;
    throw new DuplicateRequest(existing);
  }
}

// ---------------------------------------------------------------------------------------------
// The operator's review.

export const REVIEW_PAGE_SIZE = 50;

export function listForReview(deps: { db: Db }, filter: AccessRequestFilter, page: number) {
  const total = repo.countAccessRequests(deps.db, filter);
  const at = paginate(total, page, REVIEW_PAGE_SIZE);
  return {
    requests: repo.listAccessRequests(deps.db, filter, at.limit, at.offset),
    pendingCount: repo.countPendingAccessRequests(deps.db),
    total,
    page: at.page,
    pages: at.pages,
  };
}

function findRequest(deps: { db: Db }, id: number): AccessRequestRow {
  const request = repo.findAccessRequest(deps.db, id);
  if (!request) throw notFound('We could not find that access request.');
  return request;
}

function notInState(request: AccessRequestRow, action: string): HttpError {
  return new HttpError(409, 'already_decided', `The request for ${request.email} is ${request.status}, so it cannot be ${action}.`);
}

/** A new personal link: only its SHA-256 is stored; the token goes into the grant email alone. */
function issueDocsLink(deps: DocsAccessDeps, requestId: number): { link: string; token: string; expiresAt: number } {
  const token = randomToken(32);
  const now = deps.clock.now();
  const expiresAt = now + DOCS_LINK_TTL_MS;
  repo.insertDocsLink(deps.db, requestId, sha256(token), now, expiresAt);
  return { token, expiresAt, link: `${deps.config.publicUrl}/docs/access?token=${token}` };
}

function mailGrant(deps: DocsAccessDeps, request: AccessRequestRow, message: string | null): void {
  const { token, link, expiresAt } = issueDocsLink(deps, request.id);
  deps.mailer.send(
    composeMail(
      'access_granted',
      request.email,
      request.companyId,
      { companyName: request.companyName, email: request.email, link, expiresAt, message, docsUrl: `${deps.config.publicUrl}/docs` },
      [token],
    ),
  );
}

export function grantAccess(deps: DocsAccessDeps, id: number, message: string | null, actor: Actor): AccessRequestRow {
  return transaction(deps.db, () => {
    const request = findRequest(deps, id);
    if (!repo.decideAccessRequest(deps.db, id, 'granted', actor.userId, message, deps.clock.now())) throw notInState(request, 'granted');
    mailGrant(deps, request, message);
    deps.audit.record(actor, {
      action: 'docs_access.grant',
      companyId: request.companyId,
      target: request.email,
      details: { requestId: id, withMessage: message !== null },
    });
    return findRequest(deps, id);
  });
}

export function denyAccess(deps: DocsAccessDeps, id: number, message: string | null, actor: Actor): AccessRequestRow {
  return transaction(deps.db, () => {
    const request = findRequest(deps, id);
    if (!repo.decideAccessRequest(deps.db, id, 'denied', actor.userId, message, deps.clock.now())) throw notInState(request, 'denied');
    deps.mailer.send(composeMail('access_denied', request.email, request.companyId, { companyName: request.companyName, email: request.email, message }));
    deps.audit.record(actor, {
      action: 'docs_access.deny',
      companyId: request.companyId,
      target: request.email,
      details: { requestId: id, withMessage: message !== null },
    });
    return findRequest(deps, id);
  });
}

/** Ends a grant: every link it sent and every documentation session opened with one stop at once. */
export function revokeAccess(deps: DocsAccessDeps, id: number, actor: Actor): AccessRequestRow {
  return transaction(deps.db, () => {
    const request = findRequest(deps, id);
    const now = deps.clock.now();
    if (!repo.revokeAccessRequest(deps.db, id, actor.userId, now)) throw notInState(request, 'revoked');
    const links = repo.revokeDocsLinks(deps.db, id, now);
    deps.audit.record(actor, {
      action: 'docs_access.revoke',
      companyId: request.companyId,
      target: request.email,
      details: { requestId: id, linksRevoked: links },
    });
    return findRequest(deps, id);
  });
}

/** A granted address gets a fresh link (the old ones stop working), e.g. after the first one expired. */
export function resendDocsLink(deps: DocsAccessDeps, id: number, actor: Actor): AccessRequestRow {
  return transaction(deps.db, () => {
    const request = findRequest(deps, id);
    if (request.status !== 'granted') throw notInState(request, 'sent a new link');
    const links = repo.revokeDocsLinks(deps.db, id, deps.clock.now());
    mailGrant(deps, request, request.decisionMessage);
    deps.audit.record(actor, {
      action: 'docs_access.link_resend',
      companyId: request.companyId,
      target: request.email,
      details: { requestId: id, linksRevoked: links },
    });
    return request;
  });
}

// ---------------------------------------------------------------------------------------------
// Who may read the documentation.

export type LinkCheck = { ok: true; linkId: number; email: string; companyId: number } | { ok: false; reason: 'unknown' | 'expired' | 'revoked' };

function checkLink(link: repo.DocsLinkRow | undefined, now: number): LinkCheck {
  if (!link) return { ok: false, reason: 'unknown' };
  if (link.revokedAt !== null || link.requestStatus !== 'granted') return { ok: false, reason: 'revoked' };
  if (link.expiresAt <= now) return { ok: false, reason: 'expired' };
  return { ok: true, linkId: link.id, email: link.email, companyId: link.companyId };
}

/**
 * Who opened a link, as the link's company may see it in its audit log. A visitor is taken for the
 * link's holder (the label is the granted address); a user of that company is named; a user signed
 * in to another company leaves no trace of themselves there: no name, address or browser.
 */
function linkOpener(actor: Actor, viewerCompanyId: number | undefined, link: { email: string; companyId: number }): Actor {
  if (actor.userId === null) return { ...actor, label: link.email };
  if (viewerCompanyId === link.companyId) return actor;
  return { userId: null, label: link.email, ip: null, userAgent: null };
}

/** The personal link from a grant email: valid while unexpired, unreplaced and the grant stands. */
export function openDocsLink(deps: DocsAccessDeps, token: string | undefined, actor: Actor, viewerCompanyId?: number): LinkCheck {
  if (!token) return { ok: false, reason: 'unknown' };
  const check = checkLink(repo.findDocsLinkByHash(deps.db, sha256(token)), deps.clock.now());
  if (check.ok) {
    repo.touchDocsLink(deps.db, check.linkId, deps.clock.now());
    deps.audit.record(linkOpener(actor, viewerCompanyId, check), {
      action: 'docs_access.link_open',
      companyId: check.companyId,
      target: check.email,
      details: { linkId: check.linkId },
    });
  }
  return check;
}

export interface DocsViewer {
  user?: CurrentUser;
  /** The documentation session opened by a personal link. */
  linkId?: number;
}

/** Checked on every request, so a revoked or expired grant closes the documentation at once. */
export function canReadDocs(deps: { db: Db; clock: Clock }, viewer: DocsViewer): boolean {
  if (viewer.user && repo.emailHasGrant(deps.db, viewer.user.email)) return true;
  if (viewer.linkId !== undefined) return checkLink(repo.findDocsLink(deps.db, viewer.linkId), deps.clock.now()).ok;
  return false;
}

export function scopeCatalog(deps: { db: Db }): { name: string; description: string }[] {
  return listScopesSync(deps);
}
