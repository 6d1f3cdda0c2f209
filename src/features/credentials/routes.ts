import { Router } from 'express';
import type { Request, RequestHandler, Response } from 'express';
import { actorFrom } from '../../http/actor';
import { currentUser, requireOperator, requireUser } from '../../http/auth';
import { HttpError } from '../../http/errors';
import { reRenderOnFieldError } from '../../http/form-error';
import { flashAndRedirect, isHtmx, render } from '../../http/render';
import { parseOrThrow, submittedValues, validate } from '../../http/validate';
import type { CredentialKind, CredentialRow } from './service';
import type { ApiPageDeps, AreaExtras, CredentialView } from './page';
import { allowlistSummaryOf, anyCredential, basicArea, companyCredential, listWorkingCredentials, oauthArea, revokeAnyCredential } from './page';
import { AllowlistSchema, GenerateApiKeySchema, GenerateClientSchema, IdParam, RevokeSchema, SaveSchema } from './schema';
import { setAllowlist } from './allowlist';
import * as credentials from './service';
import { docsAccessArea } from '../docs-access/service';

export type CredentialsRouterDeps = ApiPageDeps & {
  /** Sudo mode before generate, save and revoke (src/http/recent-check.ts). */
  recentCheck: RequestHandler;
};

const AREA = {
  basic: { fragment: 'credentials/_basic.njk', target: '#basic-area', anchor: 'basic-auth' },
  oauth: { fragment: 'credentials/_oauth.njk', target: '#oauth-area', anchor: 'oauth' },
} as const;

const SAVED: Record<CredentialKind, string> = {
  basic: 'API key saved. It is now the active key for your company.',
  oauth: 'Client credentials saved. The Client ID stays visible here; the client secret is never shown again.',
};

/**
 * The API page (Administration view): Basic Auth keys and OAuth 2.0 client credentials.
 * Every route answers htmx with the area's fragment and a plain form with a full page; the plaintext
 * secret exists only in the response to a Generate POST (no-store, never in a URL, log or column).
 */
export function credentialsRouter(deps: CredentialsRouterDeps): Router {
  const router = Router();
  router.use('/admin/api', requireUser);
  router.use('/operator/credentials', requireOperator);

  type Extras = { basic?: AreaExtras; oauth?: AreaExtras & { chosenScopes?: string[] } };

  /** The API page, or (for htmx) just the area that changed. */
  const show = async (req: Request, res: Response, kind: CredentialKind | undefined, extras: Extras = {}, status = 200) => {
    const user = currentUser(req);
    const openArea = kind ?? (req.query.area === 'basic' || req.query.area === 'oauth' ? req.query.area : undefined);
    const wantsArea = kind !== undefined && isHtmx(req);
    const model = {
      title: 'API',
      basic: wantsArea && kind !== 'basic' ? undefined : await basicArea(deps, user.companyId, { open: openArea === 'basic' || undefined, ...extras.basic }),
      oauth: wantsArea && kind !== 'oauth' ? undefined : await oauthArea(deps, user.companyId, { open: openArea === 'oauth' || undefined, ...extras.oauth }),
      // The third area: requesting access to the OAuth 2.0 API documentation.
      docsAccess: wantsArea ? undefined : await docsAccessArea({ db: deps.db, clock: deps.clock }, user),
    };
    // The page itself never holds a secret, but it is the place secrets appear: no cache keeps it.
    render(req, res, { page: 'credentials/api.njk', fragment: kind && AREA[kind].fragment, status, noStore: true }, model);
  };

  /** Success of a save or revoke: htmx gets the refreshed area; a plain form gets post/redirect/get. */
  const done = async (req: Request, res: Response, kind: CredentialKind, text: string) => {
    if (!isHtmx(req)) return flashAndRedirect(req, res, `/admin/api?area=${kind}#${AREA[kind].anchor}`, text);
    res.set('HX-Retarget', AREA[kind].target).set('HX-Reswap', 'outerHTML');
    await show(req, res, kind, { [kind]: { message: { kind: 'success', text } } });
  };

  router.get('/admin/api', (req, res) => show(req, res, undefined));

  /**
   * Runs a generation: a field error goes back to the form by its field (the one re-render helper),
   * the cap on unsaved generations (429) becomes the area's message.
   */
  const generate = async (req: Request, res: Response, kind: CredentialKind, extras: Extras[CredentialKind], attempt: () => Promise<void>) => {
    try {
      await reRenderOnFieldError(attempt, (errors, status) => show(req, res, kind, { [kind]: { ...extras, errors } }, status));
    } catch (err) {
      if (!(err instanceof HttpError) || err.status !== 429) throw err;
      res.set(err.headers);
      await show(req, res, kind, { [kind]: { ...extras, message: { kind: 'error', text: err.message } } }, 429);
    }
  };

  router.post('/admin/api/basic-auth/generate', deps.recentCheck, async (req, res) => {
    const input = validate(GenerateApiKeySchema, req.body);
    if (!input.ok) return show(req, res, 'basic', { basic: { errors: input.errors, values: input.values } }, 422);
    await generate(req, res, 'basic', { values: submittedValues(req.body) }, async () => {
      const generated = await credentials.generateApiKeyFor(deps, currentUser(req).companyId, input.data.username, actorFrom(req));
      await show(req, res, 'basic', { basic: { generated, values: { username: input.data.username } } });
    });
  });

  router.post('/admin/api/oauth/generate', deps.recentCheck, async (req, res) => {
    const { scopes } = parseOrThrow(GenerateClientSchema, req.body);
    await generate(req, res, 'oauth', { chosenScopes: scopes }, async () => {
      const generated = await credentials.generateClientCredentials(deps, currentUser(req).companyId, scopes, actorFrom(req));
      await show(req, res, 'oauth', { oauth: { generated, chosenScopes: scopes } });
    });
  });

  const save = (kind: CredentialKind) => async (req: Request, res: Response) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const { overlap, lifetime } = parseOrThrow(SaveSchema, req.body);
    // A lifetime the company does not allow (the form offers none such): said in the area, nothing saved.
    await reRenderOnFieldError(
      async () => {
        const result = await credentials.saveCredential(deps, currentUser(req).companyId, kind, id, overlap, actorFrom(req), lifetime);
        if (result.ok) return done(req, res, kind, SAVED[kind]);
        if (result.reason === 'already_saved') return show(req, res, kind, { [kind]: { message: { kind: 'info', text: result.message } } });
        await show(req, res, kind, { [kind]: { message: { kind: 'error', text: result.message } } }, result.reason === 'expired' ? 410 : 409);
      },
      (errors, status) => show(req, res, kind, { [kind]: { message: { kind: 'error', text: Object.values(errors).join(' ') } } }, status),
    );
  };
  router.post('/admin/api/basic-auth/:id/save', deps.recentCheck, save('basic'));
  router.post('/admin/api/oauth/:id/save', deps.recentCheck, save('oauth'));

  /** The revoke confirmation (step one), as a page or, for htmx, the form swapped into the area. */
  const confirmRevoke = (req: Request, res: Response, credential: CredentialRow, base: string, model: object = {}, status = 200) =>
    render(
      req,
      res,
      { page: 'credentials/revoke.njk', fragment: 'credentials/_revoke.njk', status },
      {
        title: 'Revoke credential',
        credential,
        action: `${base}/credentials/${credential.id}/revoke`,
        cancelUrl: base === '/admin/api' ? `/admin/api?area=${credential.kind}` : '/operator/credentials',
        working: credential.status === 'active' || credential.status === 'retiring',
        // Shown inside the API page (htmx): the form swaps in place; as a page of its own it is a plain form.
        inline: isHtmx(req) && base === '/admin/api',
        values: {},
        errors: {},
        ...model,
      },
    );

  router.get('/admin/api/credentials/:id/revoke', async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    confirmRevoke(req, res, await companyCredential(deps, currentUser(req), id), '/admin/api');
  });

  router.post('/admin/api/credentials/:id/revoke', deps.recentCheck, async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const credential = await companyCredential(deps, currentUser(req), id);
    const input = validate(RevokeSchema, req.body);
    if (!input.ok) return confirmRevoke(req, res, credential, '/admin/api', { errors: input.errors, values: input.values }, 422);
    try {
      await credentials.revokeCredential(deps, credential.companyId, id, input.data.reason, actorFrom(req));
    } catch (err) {
      if (!(err instanceof HttpError) || err.status !== 409) throw err;
      return confirmRevoke(req, res, await companyCredential(deps, currentUser(req), id), '/admin/api', { errors: { _form: err.message } }, 409);
    }
    await done(req, res, credential.kind, `${noun(credential)} ${credential.identifier} revoked. It stopped working at once.`);
  });

  /** End overlap now, step one: what stops working, as a page or (htmx) swapped into the area. */
  const confirmEndOverlap = (req: Request, res: Response, credential: CredentialView, model: object = {}, status = 200) =>
    render(
      req,
      res,
      { page: 'credentials/end-overlap.njk', fragment: 'credentials/_end-overlap.njk', status },
      {
        title: 'End overlap now',
        credential,
        action: `/admin/api/credentials/${credential.id}/end-overlap`,
        cancelUrl: `/admin/api?area=${credential.kind}`,
        inline: isHtmx(req),
        errors: {},
        ...model,
      },
    );

  router.get('/admin/api/credentials/:id/end-overlap', async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    confirmEndOverlap(req, res, await companyCredential(deps, currentUser(req), id));
  });

  router.post('/admin/api/credentials/:id/end-overlap', deps.recentCheck, async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const credential = await companyCredential(deps, currentUser(req), id);
    try {
      await credentials.endOverlapNow(deps, credential.companyId, id, actorFrom(req));
    } catch (err) {
      if (!(err instanceof HttpError) || err.status !== 409) throw err;
      return confirmEndOverlap(req, res, await companyCredential(deps, currentUser(req), id), { errors: { _form: err.message } }, 409);
    }
    await done(req, res, credential.kind, `${noun(credential)} ${credential.identifier} (${credential.secretPrefix}…) stopped working: its overlap ended now.`);
  });

  router.post('/admin/api/credentials/:id/allowlist', deps.recentCheck, async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const credential = await companyCredential(deps, currentUser(req), id);
    const input = validate(AllowlistSchema, req.body);
    const refused = (error: string, status: number) =>
      show(req, res, credential.kind, { [credential.kind]: { allowlist: { id, error, value: submittedValues(req.body).allowlist ?? '' } } }, status);
    if (!input.ok) return refused(input.errors.allowlist ?? Object.values(input.errors)[0], 422);
    try {
      const saved = await setAllowlist(deps, credential.companyId, id, input.data.allowlist, actorFrom(req));
      await done(req, res, credential.kind, `IP allowlist of ${credential.identifier} saved. ${allowlistSummaryOf(saved.allowedRanges)}`);
    } catch (err) {
      if (!(err instanceof HttpError) || err.status !== 409) throw err;
      await refused(err.message, 409);
    }
  });

  router.get('/operator/credentials', async (req, res) => {
    await deps.flushLastUsed?.();
    render(req, res, { page: 'credentials/operator.njk' }, { title: 'Credentials', credentials: await listWorkingCredentials(deps) });
  });

  router.get('/operator/credentials/:id/revoke', async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    confirmRevoke(req, res, await anyCredential(deps, id), '/operator');
  });

  router.post('/operator/credentials/:id/revoke', deps.recentCheck, async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const credential = await anyCredential(deps, id);
    const input = validate(RevokeSchema, req.body);
    if (!input.ok) return confirmRevoke(req, res, credential, '/operator', { errors: input.errors, values: input.values }, 422);
    try {
      await revokeAnyCredential(deps, id, input.data.reason, actorFrom(req));
    } catch (err) {
      if (!(err instanceof HttpError) || err.status !== 409) throw err;
      return confirmRevoke(req, res, await anyCredential(deps, id), '/operator', { errors: { _form: err.message } }, 409);
    }
    flashAndRedirect(req, res, '/operator/credentials', `${noun(credential)} ${credential.identifier} revoked. It stopped working at once.`);
  });

  return router;
}

function noun(c: CredentialRow): string {
  return c.kind === 'basic' ? 'API key for' : 'Client';
}
