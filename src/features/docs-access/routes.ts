import { Router } from 'express';
import type { Request, Response } from 'express';
import { actorFrom } from '../../http/actor';
import { currentUser, requireOperator, requireUser } from '../../http/auth';
import { forbidden } from '../../http/errors';
import { reRenderOnFieldError } from '../../http/form-error';
import { IN_ORDER, listQuery, pager } from '../../http/pagination';
import { flashAndRedirect, isHtmx, render } from '../../http/render';
import { parseOrThrow, submittedValues, validate } from '../../http/validate';
import { listCompanies } from '../companies/service';
import { docsPage } from './docs-view';
import { buildOpenApi } from './openapi';
import { AccessRequestsQuerySchema, AreaQuerySchema, DecisionSchema, DocsTokenSchema, IdParam, RequestEmailSchema } from './schema';
import * as docsAccess from './service';
import type { AreaState } from './service';

const AREA_TITLE = 'Request access to the OAuth 2.0 API documentation';
const REQUEST_WORDS = { one: 'request', many: 'requests', ...IN_ORDER };

/** Ends the anonymous pre-link session and starts a fresh one (no session fixation through a shared link). */
function regenerate(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
}

function saveSession(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
}

/**
 * The documentation-access area (Request Access -> Email -> Next -> Back | Request Access), the
 * operator's review of requests, and the documentation itself for those granted access.
 */
export function docsAccessRouter(deps: docsAccess.DocsAccessDeps): Router {
  const router = Router();
  router.use('/admin/api/docs-access', requireUser);
  router.use('/operator/access-requests', requireOperator);

  // ------------------------------------------------------------------ the area, step by step
  const area = async (req: Request, res: Response, state: AreaState, status = 200) =>
    render(
      req,
      res,
      { page: 'docs-access/page.njk', fragment: 'docs-access/_area.njk', status },
      {
        title: AREA_TITLE,
        docsAccess: await docsAccess.docsAccessArea(deps, currentUser(req), { open: true, ...state }),
      },
    );

  router.get('/admin/api/docs-access', async (req, res) => {
    const { step } = parseOrThrow(AreaQuerySchema, req.query);
    await area(req, res, { step });
  });

  router.post('/admin/api/docs-access/next', async (req, res) => {
    const input = validate(RequestEmailSchema, req.body);
    if (!input.ok) return area(req, res, { step: 'email', errors: input.errors, values: input.values }, 422);
    await reRenderOnFieldError(
      async () => {
        await docsAccess.checkRequestable(deps, currentUser(req), input.data.email);
        await area(req, res, { step: 'confirm', values: input.data });
      },
      (errors, status) => area(req, res, { step: 'email', errors, values: input.data }, status),
    );
  });

  router.post('/admin/api/docs-access/back', async (req, res) => {
    const { email = '' } = submittedValues(req.body);
    await area(req, res, { step: 'email', values: { email: email.trim().slice(0, 254) } });
  });

  router.post('/admin/api/docs-access', async (req, res) => {
    const input = validate(RequestEmailSchema, req.body);
    if (!input.ok) return area(req, res, { step: 'email', errors: input.errors, values: input.values }, 422);
    let request;
    try {
      request = await docsAccess.requestAccess(deps, currentUser(req), input.data.email, actorFrom(req));
    } catch (err) {
      if (!(err instanceof docsAccess.DuplicateRequest)) throw err;
      return area(req, res, { notice: { kind: 'info', message: err.message } }, 409);
    }
    const message = `Request sent for ${request.email}. It is pending; you will be notified when you are granted access.`;
    if (isHtmx(req)) return area(req, res, { notice: { kind: 'success', message } });
    flashAndRedirect(req, res, '/admin/api/docs-access', message);
  });

  // ------------------------------------------------------------------ the operator's review
  const reviewPage = async (req: Request, res: Response, model: object = {}, status = 200) => {
    const list = listQuery(AccessRequestsQuerySchema, req.query);
    const { status: shown, company, email, page } = list.query;
    const { requests, pendingCount, ...at } = await docsAccess.listForReview(
      deps,
      { status: shown === 'all' ? undefined : shown, companyId: company, email },
      page,
    );
    render(
      req,
      res,
      { page: 'docs-access/review.njk', fragment: 'docs-access/_review-rows.njk', status: list.status === 200 ? status : list.status },
      {
        title: 'Access requests',
        requests,
        pendingCount,
        companies: await listCompanies({ db: deps.db }),
        values: list.values,
        errors: list.errors,
        statusLabel: docsAccess.STATUS_LABEL,
        decisionLabel: docsAccess.DECISION_LABEL,
        paging: pager('/operator/access-requests', list.search, at, REQUEST_WORDS),
        ...model,
      },
    );
  };

  router.get('/operator/access-requests', (req, res) => reviewPage(req, res));

  for (const decision of ['grant', 'deny'] as const) {
    router.post(`/operator/access-requests/:id/${decision}`, async (req, res) => {
      const { id } = parseOrThrow(IdParam, req.params);
      const input = validate(DecisionSchema, req.body);
      if (!input.ok)
        return reviewPage(
          req,
          res,
          { decisionErrors: { id, message: input.errors.message ?? 'Check the message.' }, decisionValues: { id, message: input.values.message ?? '' } },
          422,
        );
      const request =
        decision === 'grant'
          ? await docsAccess.grantAccess(deps, id, input.data.message, actorFrom(req))
          : await docsAccess.denyAccess(deps, id, input.data.message, actorFrom(req));
      flashAndRedirect(
        req,
        res,
        '/operator/access-requests',
        decision === 'grant'
          ? `Access granted to ${request.email}. A personal documentation link was sent by email.`
          : `Access denied to ${request.email}. They were told by email.`,
      );
    });
  }

  router.post('/operator/access-requests/:id/revoke', async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const request = await docsAccess.revokeAccess(deps, id, actorFrom(req));
    flashAndRedirect(req, res, '/operator/access-requests', `Access revoked for ${request.email}. Their documentation links stopped working.`);
  });

  router.post('/operator/access-requests/:id/resend', async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const request = await docsAccess.resendDocsLink(deps, id, actorFrom(req));
    flashAndRedirect(req, res, '/operator/access-requests', `A new documentation link was sent to ${request.email}; earlier links stopped working.`);
  });

  // ------------------------------------------------------------------ the documentation
  const viewer = (req: Request): docsAccess.DocsViewer => ({ user: req.user, linkId: req.session.docsLinkId });
  const noAccess = (req: Request, res: Response, reason: string | null) => {
    res.set('Cache-Control', 'no-store');
    render(req, res, { page: 'docs-access/no-access.njk', status: 403 }, { title: 'OAuth 2.0 API documentation', reason });
  };
  router.get('/docs', async (req, res) => {
    if (!(await docsAccess.canReadDocs(deps, viewer(req)))) return noAccess(req, res, null);
    const scopes = await docsAccess.scopeCatalog(deps);
    res.set('Cache-Control', 'private, no-store');
    render(req, res, { page: 'docs-access/docs.njk' }, { title: 'OAuth 2.0 API documentation', docs: docsPage(buildOpenApi(deps.config, scopes), scopes) });
  });

  router.get('/docs/openapi.json', async (req, res) => {
    if (!(await docsAccess.canReadDocs(deps, viewer(req)))) {
      throw forbidden('The API documentation is visible to those granted access. Request access on the API page of the console.', 'docs_access_required');
    }
    res.set('Cache-Control', 'private, no-store');
    res.json(buildOpenApi(deps.config, await docsAccess.scopeCatalog(deps)));
  });

  // The personal link from the grant email: opens a documentation session, then drops the token from the URL.
  router.get('/docs/access', async (req, res) => {
    const parsed = validate(DocsTokenSchema, req.query);
    const check = await docsAccess.openDocsLink(deps, parsed.ok ? parsed.data.token : undefined, actorFrom(req), req.user?.companyId);
    if (!check.ok) {
      const reason = {
        unknown: 'This documentation link is not valid.',
        expired: 'This documentation link has expired.',
        revoked: 'This documentation link no longer works: access was revoked or a newer link was sent.',
      }[check.reason];
      return noAccess(req, res, reason);
    }
    if (!req.user) await regenerate(req);
    req.session.docsLinkId = check.linkId;
    await saveSession(req);
    res.set('Cache-Control', 'no-store');
    res.redirect(303, '/docs');
  });

  return router;
}
