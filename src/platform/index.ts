import { Router } from 'express';
import type { Clock } from '../clock';
import type { Config } from '../config';
import type { Database } from '../db/connect';
import type { Logger } from '../log';
import type { AuditLog } from '../features/audit/service';
import type { Mailer } from '../features/mail/service';
import type { CredentialVerifier } from '../features/credentials/verify';
import type { UsageTracker } from '../features/usage/tracker';
import { SigningKeys, sealingKey } from './signing-keys/service';
import { AuthFailures } from './failures';
import { AddressRefusals } from './refusals';
import { leakReportRouter } from './leaks/routes';
import { LeakReportThrottle } from './leaks/throttle';
import type { PlatformMetrics } from '../metrics/metrics';
import type { PlatformEndpoint } from '../metrics/outcomes';
import { observer } from './observe';
import { verifyHandlers } from './verify/handlers';
import { ApiAuthenticator } from './authenticator';
import { createFastPath, headerList } from './fast-path';
import type { FastPath } from './fast-path';
import { oauthHandlers } from './oauth/handlers';
import { pruneRevokedTokens } from './oauth/repo';
import { oauthRouter } from './oauth/routes';
import { oauthEndpoints } from './oauth/service';
import { AccessTokens } from './oauth/tokens';

export interface PlatformApiDeps {
  db: Database;
  clock: Clock;
  config: Config;
  audit: AuditLog;
  verifier: CredentialVerifier;
  /** For leak reports: the affected companies' administrators are mailed. */
  mailer: Mailer;
  /** Each credential's successful uses and last caller, counted in memory (src/features/usage). */
  usage: Pick<UsageTracker, 'count'>;
  logger: Logger;
  failures?: AuthFailures;
  /** The headers every answer carries (the app's security headers), for the fast path. */
  headers: Record<string, string>;
  /** Express's compiled 'trust proxy fn': the fast path computes the client address as req.ip does. */
  trustProxy: (address: string, hop: number) => boolean;
  /** Told of every answer of the platform's endpoints (src/metrics); none: nothing is observed. */
  metrics?: PlatformMetrics;
}

export interface PlatformApi {
  /** The hot endpoints, answered before Express (fast-path.ts); false: not ours, Express goes on. */
  fast: FastPath;
  /** The rest, in Express: introspection, revocation, and 405 for wrong methods. */
  router: Router;
  signingKeys: SigningKeys;
  tokens: AccessTokens;
  /** Settles when the start-up work (the first signing key, pruning) is done; requests wait for it. */
  ready: Promise<void>;
}

/**
 * The platform API the credentials unlock: the authorization server, /api/v1/me and forward-auth.
 * Mounted before the session middleware: no cookies, no CSRF; every request authenticates itself.
 */
export function createPlatformApi(deps: PlatformApiDeps): PlatformApi {
  const { db, clock, config, audit, verifier } = deps;
  const signingKeys = new SigningKeys(db, clock, config.accessTokenTtl * 1000, sealingKey(config.sessionSecret), audit);
  const ready = (async () => {
    await signingKeys.ensureActive();
    await pruneRevokedTokens(db, clock.now());
  })();
  // Reported once here; every request that waits for it gets the error too (a 500), not a hang.
  ready.catch((err: unknown) => deps.logger.error({ err }, 'platform API start-up failed'));
  const urls = oauthEndpoints(config.publicUrl);
  const tokens = new AccessTokens(signingKeys, clock, urls.issuer, urls.audience, config.accessTokenTtl);
  const failures = deps.failures ?? new AuthFailures(db, clock);
  const authenticator = new ApiAuthenticator(db, verifier, tokens, failures, new AddressRefusals(audit, clock, deps.logger));
  const { logger, usage } = deps;
  const headers = headerList(deps.headers);
  const oauth = oauthHandlers({ db, publicUrl: config.publicUrl, tokens, authenticator, signingKeys, usage, headers });
  const verify = verifyHandlers({ authenticator, usage, logger, trustsProxy: config.trustProxy !== false, headers });
  const observe = deps.metrics ? observer(deps.metrics) : undefined;
  const fast = createFastPath<PlatformEndpoint>({
    routes: {
      '/api/v1/me': { methods: ['GET'], handler: verify.me, name: 'me' },
      '/auth/verify': { methods: ['ALL'], handler: verify.verify, name: 'verify' },
      '/oauth/token': { methods: ['POST'], handler: oauth.token, name: 'token' },
      '/.well-known/oauth-authorization-server': { methods: ['GET'], handler: oauth.metadata },
      '/.well-known/jwks.json': { methods: ['GET'], handler: oauth.jwks, name: 'jwks' },
    },
    headers,
    trustProxy: config.trustProxy === false ? undefined : deps.trustProxy,
    ready,
    logger,
    observe,
  });
  const router = Router();
  // The app is built synchronously (tests, server.ts), while the database answers asynchronously:
  // requests wait until the start-up work is done, then pass with one boolean check.
  let started = false;
  router.use((_req, _res, next) => {
    if (started) return next();
    ready.then(() => {
      started = true;
      next();
    }, next);
  });
  const credentials = { db, clock, audit, mailer: deps.mailer, publicUrl: config.publicUrl };
  router.use(leakReportRouter({ credentials, throttle: new LeakReportThrottle(db, clock) }));
  router.use(oauthRouter({ db, clock, audit, verifier, authenticator, tokens, publicUrl: config.publicUrl, observe }));
  return { fast, router, signingKeys, tokens, ready };
}
