import { Router } from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { actorFrom } from '../../http/actor';
import { currentUser, requireOperator, requireUser } from '../../http/auth';
import { forbidden } from '../../http/errors';
import { reRenderOnFieldError } from '../../http/form-error';
import { flashAndRedirect, isHtmx, render } from '../../http/render';
import { parseOrThrow, submittedValues, validate } from '../../http/validate';
import { IdParam } from '../companies/schema';
import { ConfirmTotpSchema, RequirementSchema } from './schema';
import * as factors from './service';
import { enrolmentModel, operatorPolicyModel, recoveryCodesModel, securityPageModel } from './page';

/** Where the second-factor pages' fragments are swapped in (htmx); without script, each is a full page. */
const PANEL = { page: 'second-factors/security.njk', fragment: 'second-factors/_panel.njk' };

/**
 * The signed-in user's second factors (/account/security), the operators' policy page and company
 * actions, all console routes: session, CSRF, each form working with and without htmx. Adding or
 * removing a factor, and new recovery codes, need a check within 10 minutes (sudo mode, recentCheck).
 */
export function secondFactorsRouter(deps: factors.SecondFactorDeps & { recentCheck: RequestHandler }): Router {
  const router = Router();
  router.use('/account/security', requireUser);
  router.use('/operator/security', requireOperator);

  const securityPage = async (req: Request, res: Response) =>
    render(req, res, PANEL, await securityPageModel(deps, currentUser(req), await factors.mustEnrol(deps, currentUser(req).id)));

  router.get('/account/security', (req, res) => securityPage(req, res));

  // Adding an authenticator app: the secret and its QR code exist only in the answers to these POSTs (no-store).
  router.post('/account/security/totp', deps.recentCheck, async (req, res) => {
    const enrolment = await factors.startTotpEnrolment(deps, currentUser(req));
    render(req, res, { ...PANEL, status: 201, noStore: true }, enrolmentModel(enrolment, { name: 'Authenticator app' }, {}));
  });

  router.post('/account/security/totp/:id/confirm', deps.recentCheck, async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const user = currentUser(req);
    const again = async (errors: Record<string, string>, status: number) =>
      render(
        req,
        res,
        { ...PANEL, status, noStore: true },
        enrolmentModel(await factors.pendingTotpEnrolment(deps, user, id), { ...submittedValues(req.body), code: '' }, errors),
      );
    const input = validate(ConfirmTotpSchema, req.body);
    if (!input.ok) return again(input.errors, 422);
    await reRenderOnFieldError(async () => {
      const { recoveryCodes } = await factors.confirmTotpEnrolment(deps, user, { factorId: id, ...input.data }, actorFrom(req));
      if (!recoveryCodes) return flashAndRedirect(req, res, '/account/security', `The authenticator app “${input.data.name}” is added.`);
      render(req, res, { ...PANEL, noStore: true }, recoveryCodesModel(recoveryCodes, `The authenticator app “${input.data.name}” is added.`));
    }, again);
  });

  router.post('/account/security/totp/:id/remove', deps.recentCheck, async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const result = await factors.removeTotp(deps, currentUser(req), id, actorFrom(req));
    if (!result.ok) {
      return flashAndRedirect(
        req,
        res,
        '/account/security',
        'A second factor is required for your account: add another authenticator app or a passkey before you remove this one.',
        'error',
      );
    }
    flashAndRedirect(req, res, '/account/security', `The authenticator app “${result.name}” is removed.`);
  });

  router.post('/account/security/recovery-codes', deps.recentCheck, async (req, res) => {
    await reRenderOnFieldError(
      async () => {
        const codes = await factors.regenerateRecoveryCodes(deps, currentUser(req), actorFrom(req));
        render(req, res, { ...PANEL, noStore: true }, recoveryCodesModel(codes, 'New recovery codes are ready. The old ones no longer work.'));
      },
      (errors) => flashAndRedirect(req, res, '/account/security', errors.recovery, 'error'),
    );
  });

  // The operators' own rule (deployment-wide); each company's rule is on its page.
  router.get('/operator/security', async (req, res) =>
    render(req, res, { page: 'second-factors/operator.njk' }, operatorPolicyModel(await factors.areOperatorsRequired(deps))),
  );

  router.post('/operator/security', async (req, res) => {
    const input = parseOrThrow(RequirementSchema, req.body);
    const required = input.required === 'on';
    await factors.setOperatorsRequired(deps, required, actorFrom(req));
    flashAndRedirect(
      req,
      res,
      '/operator/security',
      required ? 'Operators now need a second factor: those without one add it at their next sign-in.' : 'Operators no longer need a second factor.',
    );
  });

  router.post('/operator/companies/:id/second-factor', requireOperator, async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const required = parseOrThrow(RequirementSchema, req.body).required === 'on';
    await factors.setCompanyRequired(deps, id, required, actorFrom(req));
    const message = required
      ? 'This company’s administrators now need a second factor: those without one add it at their next sign-in.'
      : 'This company’s administrators no longer need a second factor.';
    flashAndRedirect(req, res, `/operator/companies/${id}`, message);
  });

  router.post('/operator/companies/:id/users/:userId/reset-factors', requireOperator, async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const { id: userId } = parseOrThrow(IdParam, { id: req.params.userId });
    const { email, removed, passkeys } = await factors.resetSecondFactors(deps, userId, actorFrom(req), id);
    flashAndRedirect(
      req,
      res,
      `/operator/companies/${id}`,
      `The second factors of ${email} are reset (${removed} authenticator app${removed === 1 ? '' : 's'} and ${passkeys} passkey${passkeys === 1 ? '' : 's'} removed, recovery codes too).`,
    );
  });

  return router;
}

/**
 * Paths a user who must enrol may still reach: signing in and out (with a password or a passkey, both
 * steps), the one-time links, and enrolment itself (an authenticator app on Security, or a passkey).
 */
const OPEN_WHILE_ENROLLING = [/^\/sign-in(\/|$)/, /^\/sign-out$/, /^\/setup$/, /^\/invitation$/, /^\/account\/security(\/|$)/, /^\/account\/passkeys(\/|$)/];

/**
 * The policy, on every console route: a signed-in user who must have a second factor and has none goes
 * to /account/security before anything else (pages are redirected, htmx is told to go there, other
 * requests are refused). Mounted after the session and the signed-in user are loaded.
 */
export function enrolmentGate(deps: { db: factors.SecondFactorDeps['db'] }) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (!req.user || OPEN_WHILE_ENROLLING.some((path) => path.test(req.path))) return next();
    if (!(await factors.mustEnrol(deps, req.user.id))) return next();
    if (isHtmx(req)) {
      res.set('HX-Redirect', '/account/security').status(403).end();
      return;
    }
    if (req.method === 'GET' || req.method === 'HEAD') return res.redirect(303, '/account/security');
    next(forbidden('Add a second factor on your Security page first: your account needs one.', 'second_factor_required'));
  };
}
