import type { Clock } from '../../clock';
import { DAY } from '../../clock';
import { paginate } from '../../http/pagination';
import type { Config } from '../../config';
import { randomToken, sha256 } from '../../crypto';
import type { Database } from '../../db/connect';
import { isUniqueViolation, transaction } from '../../db/connect';
import type { CurrentUser } from '../../http/auth';
import { FieldError, HttpError, notFound } from '../../http/errors';
import type { FieldErrors } from '../../http/validate';
import type { Actor, AuditLog } from '../audit/service';
import { composeMail } from '../mail/service';
import type { Mailer } from '../mail/service';
import { listScopes } from '../scopes/service';
import * as repo from './repo';
import type { AccessRequestFilter, AccessRequestRow, AccessStatus } from './repo';

export interface DocsAccessDeps {
  db: Database;
  clock: Clock;
  audit: AuditLog;
  mailer: Mailer;
  config: Pick<Config, 'publicUrl' | 'accessTokenTtl'>;
}

/** How long the personal documentation link in a grant email works. */
export const DOCS_LINK_TTL_MS = 30 * DAY;
const AREA_HISTORY = 20;

export const STATUS_LABEL: Record<AccessStatus, string> = { pending: 'Pending', granted: 'Granted', denied: 'Denied', revoked: 'Revoked' };
/** What the decision on a request was, by its status now (a revoked grant was granted first); a pending one has none. */
export const DECISION_LABEL: Record<AccessStatus, string> = { pending: '', granted: 'Granted', denied: 'Denied', revoked: 'Granted' };

// ---------------------------------------------------------------------------------------------
// The area on the API page: Request Access -> Email -> Next -> confirm (Back | Request Access).

export type AreaStep = 'start' | 'email' | 'confirm';

export interface DocsAccessArea {
  step: AreaStep;
  values: { email: string };
  errors: FieldErrors;
  notice: { kind: 'success' | 'info'; message: string } | null;
  /** The company's requests, pending first, each with its status and dates. */
  requests: AreaRequest[];
  /** The signed-in user's own address holds a grant: the area links to the documentation. */
  canReadDocs: boolean;
  /** Rendered open (after a step or on the area's own page); the API page shows it closed. */
  open: boolean;
  statusLabel: Record<AccessStatus, string>;
}

/** A request in the area's table, with its Decided cell in words: revoked when, decided when, or still waiting. */
export interface AreaRequest extends AccessRequestRow {
  decided: { label: string; at: number | null };
}

export function areaRequest(r: AccessRequestRow): AreaRequest {
  const decided =
    r.status === 'revoked' ? { label: 'Revoked', at: r.revokedAt } : r.decidedAt ? { label: '', at: r.decidedAt } : { label: 'Waiting for review', at: null };
  return { ...r, decided };
}

export interface AreaState {
  step?: AreaStep;
  values?: { email?: string };
  errors?: FieldErrors;
  notice?: DocsAccessArea['notice'];
  open?: boolean;
}

/** The view model of the documentation-access area for the signed-in user's company. */
export async function docsAccessArea(deps: { db: Database; clock: Clock }, user: CurrentUser, state: AreaState = {}): Promise<DocsAccessArea> {
  return {
    step: state.step ?? 'start',
    values: { email: state.values?.email ?? user.email },
    errors: state.errors ?? {},
    notice: state.notice ?? null,
    requests: (await repo.listCompanyAccessRequests(deps.db, user.companyId, AREA_HISTORY)).map(areaRequest),
    canReadDocs: await repo.emailHasGrant(deps.db, user.email),
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
export async function checkRequestable(deps: { db: Database }, user: CurrentUser, email: string): Promise<void> {
  const existing = await repo.findOpenAccessRequest(deps.db, user.companyId, email);
  if (existing) throw new FieldError('email', duplicateMessage(existing));
}

export class DuplicateRequest extends HttpError {
  constructor(readonly existing: AccessRequestRow) {
    super(409, 'already_requested', duplicateMessage(existing));
  }
}

/** Records a pending request for `email` from the user's company (at most one open request per address). */
export async function requestAccess(deps: DocsAccessDeps, user: CurrentUser, email: string, actor: Actor): Promise<AccessRequestRow> {
  try {
    return await transaction(deps.db, async (trx) => {
      const existing = await repo.findOpenAccessRequest(trx, user.companyId, email);
      if (existing) throw new DuplicateRequest(existing);
      const id = await repo.insertAccessRequest(trx, user.companyId, email, user.id, deps.clock.now());
      await deps.audit.record(actor, { action: 'docs_access.request', companyId: user.companyId, target: email, details: { requestId: id } }, trx);
      return (await repo.findAccessRequest(trx, id))!;
    });
  } catch (err) {
    // Two submits racing past the check: the partial unique index stops the second one.
    if (!isUniqueViolation(err)) throw err;
    const existing = await repo.findOpenAccessRequest(deps.db, user.companyId, email);
    if (!existing) throw err;
    throw new DuplicateRequest(existing);
  }
}

// ---------------------------------------------------------------------------------------------
// The operator's review.

export const REVIEW_PAGE_SIZE = 50;

export async function listForReview(deps: { db: Database }, filter: AccessRequestFilter, page: number) {
  const total = await repo.countAccessRequests(deps.db, filter);
  const at = paginate(total, page, REVIEW_PAGE_SIZE);
  return {
    requests: await repo.listAccessRequests(deps.db, filter, at.limit, at.offset),
    pendingCount: await repo.countPendingAccessRequests(deps.db),
    total,
    page: at.page,
    pages: at.pages,
  };
}

async function findRequest(db: Database, id: number): Promise<AccessRequestRow> {
  const request = await repo.findAccessRequest(db, id);
  if (!request) throw notFound('We could not find that access request.');
  return request;
}

function notInState(request: AccessRequestRow, action: string): HttpError {
  return new HttpError(409, 'already_decided', `The request for ${request.email} is ${request.status}, so it cannot be ${action}.`);
}

/** A new personal link: only its SHA-256 is stored; the token goes into the grant email alone. */
async function issueDocsLink(deps: DocsAccessDeps, trx: Database, requestId: number): Promise<{ link: string; token: string; expiresAt: number }> {
  const token = randomToken(32);
  const now = deps.clock.now();
  const expiresAt = now + DOCS_LINK_TTL_MS;
  await repo.insertDocsLink(trx, requestId, sha256(token), now, expiresAt);
  return { token, expiresAt, link: `${deps.config.publicUrl}/docs/access?token=${token}` };
}

async function mailGrant(deps: DocsAccessDeps, trx: Database, request: AccessRequestRow, message: string | null): Promise<void> {
  const { token, link, expiresAt } = await issueDocsLink(deps, trx, request.id);
  await deps.mailer.send(
    composeMail(
      'access_granted',
      request.email,
      request.companyId,
      { companyName: request.companyName, email: request.email, link, expiresAt, message, docsUrl: `${deps.config.publicUrl}/docs` },
      [token],
    ),
    trx,
  );
}

/** Runs a decision that sends mail in one transaction, then wakes the mailer: the message exists once it commits. */
async function decideAndMail<T>(deps: DocsAccessDeps, fn: (trx: Database) => Promise<T>): Promise<T> {
  const result = await transaction(deps.db, fn);
  deps.mailer.wake?.();
  return result;
}

export async function grantAccess(deps: DocsAccessDeps, id: number, message: string | null, actor: Actor): Promise<AccessRequestRow> {
  return decideAndMail(deps, async (trx) => {
    const request = await findRequest(trx, id);
    if (!(await repo.decideAccessRequest(trx, id, 'granted', actor.userId, message, deps.clock.now()))) throw notInState(request, 'granted');
    await mailGrant(deps, trx, request, message);
    await deps.audit.record(
      actor,
      { action: 'docs_access.grant', companyId: request.companyId, target: request.email, details: { requestId: id, withMessage: message !== null } },
      trx,
    );
    return findRequest(trx, id);
  });
}

export async function denyAccess(deps: DocsAccessDeps, id: number, message: string | null, actor: Actor): Promise<AccessRequestRow> {
  return decideAndMail(deps, async (trx) => {
    const request = await findRequest(trx, id);
    if (!(await repo.decideAccessRequest(trx, id, 'denied', actor.userId, message, deps.clock.now()))) throw notInState(request, 'denied');
    await deps.mailer.send(
      composeMail('access_denied', request.email, request.companyId, { companyName: request.companyName, email: request.email, message }),
      trx,
    );
    await deps.audit.record(
      actor,
      { action: 'docs_access.deny', companyId: request.companyId, target: request.email, details: { requestId: id, withMessage: message !== null } },
      trx,
    );
    return findRequest(trx, id);
  });
}

/** Ends a grant: every link it sent and every documentation session opened with one stop at once. */
export async function revokeAccess(deps: DocsAccessDeps, id: number, actor: Actor): Promise<AccessRequestRow> {
  return transaction(deps.db, async (trx) => {
    const request = await findRequest(trx, id);
    const now = deps.clock.now();
    if (!(await repo.revokeAccessRequest(trx, id, actor.userId, now))) throw notInState(request, 'revoked');
    const links = await repo.revokeDocsLinks(trx, id, now);
    await deps.audit.record(
      actor,
      { action: 'docs_access.revoke', companyId: request.companyId, target: request.email, details: { requestId: id, linksRevoked: links } },
      trx,
    );
    return findRequest(trx, id);
  });
}

/** A granted address gets a fresh link (the old ones stop working), e.g. after the first one expired. */
export async function resendDocsLink(deps: DocsAccessDeps, id: number, actor: Actor): Promise<AccessRequestRow> {
  return decideAndMail(deps, async (trx) => {
    const request = await findRequest(trx, id);
    if (request.status !== 'granted') throw notInState(request, 'sent a new link');
    const links = await repo.revokeDocsLinks(trx, id, deps.clock.now());
    await mailGrant(deps, trx, request, request.decisionMessage);
    await deps.audit.record(
      actor,
      { action: 'docs_access.link_resend', companyId: request.companyId, target: request.email, details: { requestId: id, linksRevoked: links } },
      trx,
    );
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
export async function openDocsLink(deps: DocsAccessDeps, token: string | undefined, actor: Actor, viewerCompanyId?: number): Promise<LinkCheck> {
  if (!token) return { ok: false, reason: 'unknown' };
  const check = checkLink(await repo.findDocsLinkByHash(deps.db, sha256(token)), deps.clock.now());
  if (check.ok) {
    await repo.touchDocsLink(deps.db, check.linkId, deps.clock.now());
    await deps.audit.record(linkOpener(actor, viewerCompanyId, check), {
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
export async function canReadDocs(deps: { db: Database; clock: Clock }, viewer: DocsViewer): Promise<boolean> {
  if (viewer.user && (await repo.emailHasGrant(deps.db, viewer.user.email))) return true;
  if (viewer.linkId !== undefined) return checkLink(await repo.findDocsLink(deps.db, viewer.linkId), deps.clock.now()).ok;
  return false;
}

export async function scopeCatalog(deps: { db: Database }): Promise<{ name: string; description: string }[]> {
  return listScopes(deps);
}
