import { Router } from 'express';
import type { Request, RequestHandler, Response } from 'express';
import { actorFrom } from '../../http/actor';
import { requireOperator } from '../../http/auth';
import { reRenderOnFieldError } from '../../http/form-error';
import { flashAndRedirect, render } from '../../http/render';
import { parseOrThrow, submittedValues, validate } from '../../http/validate';
import { CompanyScopesSchema, CreateCompanySchema, CredentialLifetimePolicySchema, IdParam, InviteSchema, LeakPolicySchema } from './schema';
import * as companies from './service';
import { companyFactorStatus } from '../second-factors/service';

/** Operator pages: companies, their administrators and the scopes they may grant. */
export function companiesRouter(deps: companies.CompaniesDeps & { recentCheck: RequestHandler }): Router {
  const router = Router();
  router.use('/operator/companies', requireOperator);

  const listPage = async (req: Request, res: Response, model: object = {}, status = 200) =>
    render(
      req,
      res,
      { page: 'companies/list.njk', fragment: 'companies/_create.njk', status },
      {
        title: 'Companies',
        companies: await companies.listCompanies(deps),
        values: {},
        errors: {},
        ...model,
      },
    );

  const companyPage = async (req: Request, res: Response, id: number, model: object = {}, status = 200, fragment?: string) =>
    render(
      req,
      res,
      { page: 'companies/show.njk', fragment, status, noStore: true },
      {
        title: 'Company',
        company: await companies.getCompany(deps, id),
        secondFactor: await companyFactorStatus(deps, id),
        values: {},
        errors: {},
        ...model,
      },
    );

  router.get('/operator/companies', (req, res) => listPage(req, res));

  router.post('/operator/companies', async (req, res) => {
    const input = validate(CreateCompanySchema, req.body);
    if (!input.ok) return listPage(req, res, { errors: input.errors, values: input.values }, 422);
    await reRenderOnFieldError(
      async () => {
        const id = await companies.createCompany(deps, input.data.name, actorFrom(req));
        flashAndRedirect(req, res, `/operator/companies/${id}`, `Company “${input.data.name}” created.`);
      },
      (errors, status) => listPage(req, res, { errors, values: submittedValues(req.body) }, status),
    );
  });

  router.get('/operator/companies/:id', async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    await companyPage(req, res, id);
  });

  router.post('/operator/companies/:id/invitations', deps.recentCheck, async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const input = validate(InviteSchema, req.body);
    if (!input.ok) return companyPage(req, res, id, { errors: input.errors, values: input.values }, 422, 'companies/_invite.njk');
    await reRenderOnFieldError(
      async () => {
        // The link is shown once, in this response only (no-store); it is also mailed to the address.
        const invitation = await companies.inviteAdministrator(
          deps,
          id,
          { email: input.data.email, isOperator: input.data.isOperator === 'on' },
          actorFrom(req),
        );
        await companyPage(req, res, id, { invitation }, 201, 'companies/_invite.njk');
      },
      (errors, status) => companyPage(req, res, id, { errors, values: submittedValues(req.body) }, status, 'companies/_invite.njk'),
    );
  });

  router.post('/operator/companies/:id/users/:userId/disable', async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const { id: userId } = parseOrThrow(IdParam, { id: req.params.userId });
    const email = await companies.disableUser(deps, id, userId, actorFrom(req));
    flashAndRedirect(req, res, `/operator/companies/${id}`, `${email} is disabled and signed out everywhere.`);
  });

  router.post('/operator/companies/:id/users/:userId/enable', async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const { id: userId } = parseOrThrow(IdParam, { id: req.params.userId });
    const email = await companies.enableUser(deps, id, userId, actorFrom(req));
    flashAndRedirect(req, res, `/operator/companies/${id}`, `${email} can sign in again.`);
  });

  router.post('/operator/companies/:id/scopes', async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const input = parseOrThrow(CompanyScopesSchema, req.body);
    await reRenderOnFieldError(
      async () => {
        await companies.setCompanyScopes(deps, id, input.scopes, actorFrom(req));
        flashAndRedirect(req, res, `/operator/companies/${id}`, 'Allowed scopes saved.');
      },
      (errors, status) => companyPage(req, res, id, { errors }, status),
    );
  });

  router.post('/operator/companies/:id/credential-lifetime', async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const input = validate(CredentialLifetimePolicySchema, req.body);
    if (!input.ok) return companyPage(req, res, id, { errors: input.errors, values: input.values }, 422);
    await companies.setMaxCredentialLifetime(deps, id, input.data.maxLifetime, actorFrom(req));
    const text =
      input.data.maxLifetime === null
        ? 'Credential lifetime saved: no maximum.'
        : `Credential lifetime saved: at most ${input.data.maxLifetime} days for credentials saved from now on.`;
    flashAndRedirect(req, res, `/operator/companies/${id}`, text);
  });

  router.post('/operator/companies/:id/leak-policy', async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const input = validate(LeakPolicySchema, req.body);
    if (!input.ok) return companyPage(req, res, id, { errors: input.errors }, 422);
    await companies.setLeakPolicy(deps, id, input.data.policy, actorFrom(req));
    flashAndRedirect(
      req,
      res,
      `/operator/companies/${id}`,
      input.data.policy === 'revoke' ? 'Leaked credentials will be revoked at once.' : 'Leaked credentials will only be reported.',
    );
  });

  return router;
}
