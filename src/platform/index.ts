import { Router } from 'express';
import type { Clock } from '../clock';
import type { Config } from '../config';
import type { Db } from '../db/open';
import type { Logger } from '../log';
import type { AuditLog } from '../features/audit/service';
import type { CredentialVerifier } from '../features/credentials/verify';
import { SigningKeys, sealingKey } from './signing-keys/service';
import { AuthFailures } from './failures';
import { verifyRouter } from './verify/routes';
import { ApiAuthenticator } from './authenticator';
import { pruneRevokedTokens } from './oauth/repo';
import { oauthRouter } from './oauth/routes';
import { oauthEndpoints } from './oauth/service';
import { AccessTokens } from './oauth/tokens';

export interface PlatformApiDeps {
  db: Db;
  clock: Clock;
  config: Config;
  audit: AuditLog;
  verifier: CredentialVerifier;
  logger: Logger;
  failures?: AuthFailures;
}

export interface PlatformApi {
  router: Router;
  signingKeys: SigningKeys;
  tokens: AccessTokens;
}

/**
 * The platform API the credentials unlock: the authorization server, /api/v1/me and forward-auth.
 * Mounted before the session middleware: no cookies, no CSRF; every request authenticates itself.
 */
export function createPlatformApi(deps: PlatformApiDeps): PlatformApi {
  const { db, clock, config, audit, verifier } = deps;
  const signingKeys = new SigningKeys(db, clock, config.accessTokenTtl * 1000, sealingKey(config.sessionSecret));
  signingKeys.ensureActive();
  pruneRevokedTokens(db, clock.now());
  const urls = oauthEndpoints(config.publicUrl);
  const tokens = new AccessTokens(signingKeys, clock, urls.issuer, urls.audience, config.accessTokenTtl);
  const authenticator = new ApiAuthenticator(db, verifier, tokens);
  const failures = deps.failures ?? new AuthFailures(clock);
  const router = Router();
  router.use(oauthRouter({ db, clock, audit, verifier, authenticator, tokens, publicUrl: config.publicUrl, signingKeys, failures }));
  router.use(verifyRouter({ authenticator, failures, logger: deps.logger, trustsProxy: config.trustProxy !== false }));
  return { router, signingKeys, tokens };
}
