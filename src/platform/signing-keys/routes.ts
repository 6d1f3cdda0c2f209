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

type ListedKey = Awaited<ReturnType<SigningKeys['list']>>[number];

/** A key as its row shows it: the status label and its class, what that means now, and until when. */
export interface KeyView extends ListedKey {
  statusLabel: string;
  statusClass: 'active' | 'retiring' | 'revoked';
  statusNote: string;
  /** The end of its publication, shown after the note while it is still in the JWKS. */
  noteUntil: number | null;
}

export function keyView(key: ListedKey): KeyView {
  const [statusLabel, statusClass, statusNote] =
    key.status === 'active'
      ? (['Active', 'active', 'signs new tokens'] as const)
      : key.published
        ? (['Retired', 'retiring', 'in the JWKS until'] as const)
        : key.retiredAtOnce
          ? (['Retired at once', 'revoked', '(suspected leak) no longer published'] as const)
          : (['Retired', 'revoked', 'no longer published'] as const);
  return { ...key, statusLabel, statusClass, statusNote, noteUntil: key.status !== 'active' && key.published ? key.publishedUntil : null };
}

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
        keys: (await deps.signingKeys.list()).map(keyView),
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
