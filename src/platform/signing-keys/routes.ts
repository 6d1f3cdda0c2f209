import { Router } from 'express';
import type { Request, RequestHandler, Response } from 'express';
import { formatUtcMinute } from '../../clock';
import { actorFrom } from '../../http/actor';
import { requireOperator } from '../../http/auth';
import { flashAndRedirect, render } from '../../http/render';
import { validate } from '../../http/validate';
import type { FieldErrors } from '../../http/validate';
import { RetireNowSchema } from './schema';
import type { SigningKeys } from './service';

export interface SigningKeysRouterDeps {
  signingKeys: SigningKeys;
  accessTokenTtl: number;
  /** Sudo mode before a rotation (src/http/recent-check.ts). */
  recentCheck: RequestHandler;
}

const shortKid = (kid: string) => `${kid.slice(0, 12)}…`;

/** The operator's page for the access-token signing keys: see them, rotate them, retire one at once after a leak. */
export function signingKeysRouter(deps: SigningKeysRouterDeps): Router {
  const router = Router();
  router.use('/operator/signing-keys', requireOperator);

  const showKeys = async (req: Request, res: Response, errors: FieldErrors = {}, status = 200) => {
    render(
      req,
      res,
      { page: 'signing-keys/list.njk', fragment: 'signing-keys/_keys.njk', status },
      {
        title: 'Signing keys',
        keys: await deps.signingKeys.list(),
        accessTokenTtl: deps.accessTokenTtl,
        errors,
      },
    );
  };

  router.get('/operator/signing-keys', (req, res) => showKeys(req, res));

  router.post('/operator/signing-keys/rotate', deps.recentCheck, async (req, res) => {
    const result = await deps.signingKeys.rotate(actorFrom(req));
    const until =
      result.previousPublishedUntil === null
        ? ''
        : ` The previous key stays in the JWKS until ${formatUtcMinute(result.previousPublishedUntil)}, so the tokens it signed keep working until they expire.`;
    flashAndRedirect(req, res, '/operator/signing-keys', `New signing key ${shortKid(result.kid)} is active.${until}`);
  });

  router.post('/operator/signing-keys/retire-now', deps.recentCheck, async (req, res) => {
    const input = validate(RetireNowSchema, req.body);
    if (!input.ok) return showKeys(req, res, input.errors, 422);
    const result = await deps.signingKeys.rotate(actorFrom(req), { retireNow: true });
    const previous =
      result.previousKid === null
        ? ''
        : ` The previous key ${shortKid(result.previousKid)} left the JWKS: every access token it signed is refused from now on, and clients must request a new token.`;
    flashAndRedirect(req, res, '/operator/signing-keys', `New signing key ${shortKid(result.kid)} is active.${previous}`);
  });

  return router;
}
