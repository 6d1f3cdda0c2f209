import { Router } from 'express';
import type { Clock } from '../../clock';
import { actorFrom } from '../../http/actor';
import { requireOperator } from '../../http/auth';
import { flashAndRedirect, render } from '../../http/render';
import type { AuditLog } from '../audit/service';
import type { SigningKeys } from './service';

export interface SigningKeysRouterDeps {
  signingKeys: SigningKeys;
  audit: AuditLog;
  clock: Clock;
  accessTokenTtl: number;
}

/** The operator's page for the access-token signing keys: see them, rotate them. */
export function signingKeysRouter(deps: SigningKeysRouterDeps): Router {
  const router = Router();
  router.use('/operator/signing-keys', requireOperator);

  router.get('/operator/signing-keys', (req, res) => {
    const now = deps.clock.now();
    const keys = deps.signingKeys.list().map((key) => ({
      ...key,
      published: key.status === 'active' || (key.publishedUntil ?? 0) > now,
    }));
    render(req, res, { page: 'signing-keys/list.njk', fragment: 'signing-keys/_keys.njk' }, {
      title: 'Signing keys',
      keys,
      accessTokenTtl: deps.accessTokenTtl,
    });
  });

  router.post('/operator/signing-keys/rotate', (req, res) => {
    const result = deps.signingKeys.rotate(deps.audit, actorFrom(req));
    const until = result.previousPublishedUntil === null ? '' : ` The previous key stays in the JWKS until ${new Date(result.previousPublishedUntil).toISOString().replace('T', ' ').slice(0, 16)} UTC, so the tokens it signed keep working until they expire.`;
    flashAndRedirect(req, res, '/operator/signing-keys', `New signing key ${result.kid.slice(0, 12)}… is active.${until}`);
  });

  return router;
}
