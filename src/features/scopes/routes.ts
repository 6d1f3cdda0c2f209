import { Router } from 'express';
import type { Request, Response } from 'express';
import { actorFrom } from '../../http/actor';
import { requireOperator } from '../../http/auth';
import { HttpError } from '../../http/errors';
import { reRenderOnFieldError } from '../../http/form-error';
import { flashAndRedirect, isHtmx, render } from '../../http/render';
import { parseOrThrow, submittedValues, validate } from '../../http/validate';
import { CreateScopeSchema, EditScopeSchema, ScopeParam } from './schema';
import * as scopes from './service';

interface CatalogModel {
  values?: Record<string, string>;
  errors?: Record<string, string>;
  /** Per scope: a failed description edit, kept by the scope's row. */
  editing?: { name: string; value: string; error: string };
  message?: { kind: 'success' | 'error'; text: string };
}

/** The operator's scope catalog: list, add, describe, and remove when unused. */
export function scopesRouter(deps: scopes.ScopesDeps): Router {
  const router = Router();
  router.use('/operator/scopes', requireOperator);

  const catalog = async (req: Request, res: Response, model: CatalogModel = {}, status = 200) =>
    render(
      req,
      res,
      { page: 'scopes/list.njk', fragment: 'scopes/_catalog.njk', status },
      {
        title: 'Scopes',
        scopes: await scopes.scopeCatalog(deps),
        values: {},
        errors: {},
        ...model,
      },
    );

  /** Success: htmx gets the refreshed catalog with the message; a plain form gets post/redirect/get. */
  const done = async (req: Request, res: Response, text: string) =>
    isHtmx(req) ? catalog(req, res, { message: { kind: 'success', text } }) : flashAndRedirect(req, res, '/operator/scopes', text);

  router.get('/operator/scopes', (req, res) => catalog(req, res));

  router.post('/operator/scopes', async (req, res) => {
    const input = validate(CreateScopeSchema, req.body);
    if (!input.ok) return catalog(req, res, { errors: input.errors, values: input.values }, 422);
    await reRenderOnFieldError(
      async () => {
        await scopes.addScope(deps, input.data.name, input.data.description, actorFrom(req));
        await done(req, res, `Scope ${input.data.name} added. Allow it for a company on the company's page.`);
      },
      (errors, status) => catalog(req, res, { errors, values: submittedValues(req.body) }, status),
    );
  });

  // The scope name travels in the form body, not the path: NQCHAR allows "/", "?", "#", "%" and "..".
  router.post('/operator/scopes/describe', async (req, res) => {
    const { name } = parseOrThrow(ScopeParam, req.body);
    const input = validate(EditScopeSchema, req.body);
    if (!input.ok) return catalog(req, res, { editing: { name, value: input.values.description ?? '', error: input.errors.description } }, 422);
    await scopes.describeScope(deps, name, input.data.description, actorFrom(req));
    await done(req, res, `Description of ${name} saved.`);
  });

  router.post('/operator/scopes/delete', async (req, res) => {
    const { name } = parseOrThrow(ScopeParam, req.body);
    try {
      await scopes.removeScope(deps, name, actorFrom(req));
    } catch (err) {
      if (!(err instanceof HttpError) || err.status !== 409) throw err;
      return catalog(req, res, { message: { kind: 'error', text: err.message } }, 409);
    }
    await done(req, res, `Scope ${name} removed from the catalog.`);
  });

  return router;
}
