import express from 'express';
import type { Express } from 'express';
import session from 'express-session';
import nunjucks from 'nunjucks';
import type { Config } from './config';
import type { Clock } from './clock';
import type { Database } from './db/connect';
import type { Logger } from './log';
import { PUBLIC_DIR, VIEWS_DIR } from './paths';
import { loadUser, requireUser } from './http/auth';
import { createCsrf, sameOriginOnly } from './http/csrf';
import { requireRecentCheck } from './http/recent-check';
import { errorHandler, notFoundHandler } from './http/error-handler';
import { formBodiesOnly } from './http/form-body';
import { DatabaseSessionStore } from './http/session-store';
import { AuditLog } from './features/audit/service';
import { auditRouter } from './features/audit/routes';
import { authRouter } from './features/auth/routes';
import { companiesRouter } from './features/companies/routes';
import { healthRouter } from './features/health/routes';
import type { Mailer } from './features/mail/service';
import { createMailer } from './features/mail/smtp';
import { outboxRouter } from './features/mail/routes';
import { docsAccessRouter } from './features/docs-access/routes';
import { runCredentialHousekeeping } from './features/credentials/service';
import { CredentialVerifier, LastUsedTracker } from './features/credentials/verify';
import { credentialsRouter } from './features/credentials/routes';
import { UsageTracker } from './features/usage/tracker';
import { scopesRouter } from './features/scopes/routes';
import { passkeysRouter } from './features/passkeys/routes';
import { createPlatformApi } from './platform';
import { createSecurityHeaders, headersSetBy, serveFirst } from './http/security-headers';
import { signingKeysRouter } from './platform/signing-keys/routes';
import { onClose } from './lifecycle';
import { createMetrics } from './metrics/metrics';
import type { Metrics } from './metrics/metrics';
import { metricsRouter } from './metrics/routes';
import { isPostgres } from './db/connect';
import { registerFilters } from './views';
import { deriveSealingKey } from './crypto';
import { enrolmentGate, secondFactorsRouter } from './features/second-factors/routes';
import { SEALING_PURPOSE } from './features/second-factors/service';

export interface AppDeps {
  config: Config;
  /** The database, on either engine (src/db/connect.ts). */
  database: Database;
  clock: Clock;
  logger: Logger;
  mailer?: Mailer;
  /** The app's metrics (server.ts makes them before connecting, to time every statement); made from config when absent. */
  metrics?: Metrics;
}

export const IDLE_SESSION_MS = 60 * 60 * 1000;

/** Builds the whole app on the given dependencies; tests call this with a fresh database and a fake clock. */
export function createApp(deps: AppDeps): Express {
  const { config, database, clock, logger } = deps;
  const audit = new AuditLog(database, clock);
  const mailer = deps.mailer ?? createMailer(config, database, clock, logger);
  const app = express();
  const metrics = deps.metrics ?? createMetrics({ enabled: config.metricsToken !== undefined, engine: isPostgres(database) ? 'postgres' : 'sqlite' });
  metrics.watchDatabase(database, clock);

  // The one verification path for API keys, client secrets and tokens' clients (see verify.ts).
  const lastUsed = new LastUsedTracker(deps.database);
  lastUsed.start();
  const verifier = new CredentialVerifier(deps.database, clock, lastUsed);
  // Each credential's uses per hour and its last caller, counted like the last-used times (features/usage).
  const usage = new UsageTracker(deps.database, clock);
  usage.start();
  const credentialsDeps = { db: deps.database, clock, audit, mailer, publicUrl: config.publicUrl };
  // Unsaved generations lapse, lifetimes and overlaps end on their own (verification checks times
  // itself), and expiry warnings go out. A failed sweep is logged and the next one tries again.
  const sweeper = setInterval(
    () => void runCredentialHousekeeping(credentialsDeps).catch((err: unknown) => logger.error({ err }, 'credential sweep failed')),
    30_000,
  );
  sweeper.unref();
  // What the in-memory counters hold, written now (tests settle the database before comparing it).
  app.locals.flushWriteBehind = async () => {
    await lastUsed.flush();
    await usage.flush();
  };
  onClose(app, async () => {
    clearInterval(sweeper);
    await lastUsed.stop();
    await usage.stop();
  });

  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  app.set('view engine', 'njk');
  const env = nunjucks.configure(VIEWS_DIR, { autoescape: true, express: app, noCache: config.isDevelopment });
  registerFilters(env);

  const securityHeaders = createSecurityHeaders(config.secureCookies);
  app.use(securityHeaders);

  // Machine endpoints first: no cookies, no session, no CSRF (they authenticate every request).
  app.use(healthRouter(deps.database));
  if (config.metricsToken) app.use(metricsRouter(metrics, config.metricsToken, logger));
  const platform = createPlatformApi({
    db: deps.database,
    clock,
    config,
    audit,
    verifier,
    mailer,
    usage,
    logger,
    headers: headersSetBy(securityHeaders),
    trustProxy: app.get('trust proxy fn') as (address: string, hop: number) => boolean,
    metrics: metrics.enabled ? metrics.platform : undefined,
  });
  onClose(app, () => platform.ready.catch(() => undefined)); // never close the database under its start-up work
  // Registered last, so it runs first on close: no delivery starts while the hooks above wait on the database
  // (the usage flush's prune, the last-used flush); what is queued stays queued for the next start.
  onClose(app, () => mailer.close?.());
  serveFirst(app, platform.fast);
  app.locals.fastRoutes = platform.fast.routes; // the app's routes are Express's and these (tests list them)
  app.use(platform.router);
  app.use(express.static(PUBLIC_DIR, { index: false, maxAge: config.isDevelopment ? 0 : '1h' }));

  // The console: cookie sessions, CSRF, the signed-in user.
  const cookieName = config.secureCookies ? '__Host-console.sid' : 'console.sid';
  app.set('session cookie name', cookieName);
  app.use(
    session({
      name: cookieName,
      secret: config.sessionSecret,
      store: new DatabaseSessionStore(database, clock, IDLE_SESSION_MS),
      resave: false,
      saveUninitialized: false,
      rolling: true,
      cookie: { httpOnly: true, sameSite: 'lax', secure: config.secureCookies, path: '/', maxAge: IDLE_SESSION_MS },
    }),
  );
  app.use(express.urlencoded({ extended: false, limit: '32kb', parameterLimit: 100 }));
  app.use(express.json({ limit: '32kb' }));
  app.use(formBodiesOnly);
  app.use(loadUser(database, clock));
  const csrf = createCsrf({ secret: config.sessionSecret, secureCookies: config.secureCookies });
  app.use(sameOriginOnly(config.publicUrl));
  app.use(csrf.protect);
  app.use((req, res, next) => {
    res.locals.currentUser = req.user;
    res.locals.path = req.path;
    res.locals.csrfToken = csrf.token(req, res);
    const flashes = req.session.flash;
    if (flashes?.length && req.method === 'GET') {
      res.locals.flashes = flashes;
      delete req.session.flash;
    }
    next();
  });

  // Second factors (issue 13): whoever must have one and has none reaches nothing else until they add it.
  const secondFactors = { db: database, clock, audit, mailer, publicUrl: config.publicUrl, sealKey: deriveSealingKey(config.sessionSecret, SEALING_PURPOSE) };
  app.use(enrolmentGate(secondFactors));

  const authDeps = { db: database, clock, audit, bcryptCost: config.bcryptCost, signIns: metrics, secondFactors };
  app.use(authRouter(authDeps));
  // Sudo mode: the sensitive actions ask for the password again when the last check is 10 minutes old.
  const recentCheck = requireRecentCheck(authDeps);
  app.use(passkeysRouter({ db: database, clock, audit, mailer, publicUrl: config.publicUrl, recentCheck }));
  app.get('/', requireUser, (req, res) => {
    // A redirect shows no page: the flash message (e.g. "The console is set up") waits for the next one.
    if (res.locals.flashes) req.session.flash = res.locals.flashes as typeof req.session.flash;
    res.redirect(303, '/admin/api');
  });
  app.use(companiesRouter({ db: database, clock, audit, mailer, publicUrl: config.publicUrl, recentCheck }));
  app.use(auditRouter({ db: database }));
  app.use(
    credentialsRouter({ ...credentialsDeps, publicUrl: config.publicUrl, flushLastUsed: () => lastUsed.flush(), flushUsage: () => usage.flush(), recentCheck }),
  );
  app.use(scopesRouter({ db: database, clock, audit }));
  app.use(outboxRouter({ db: database, clock, audit, mailer }));
  app.use(docsAccessRouter({ db: database, clock, audit, mailer, config }));
  app.use(signingKeysRouter({ signingKeys: platform.signingKeys, accessTokenTtl: config.accessTokenTtl, recentCheck }));
  app.use(secondFactorsRouter({ ...secondFactors, recentCheck }));

  app.use(notFoundHandler);
  app.use(errorHandler(logger, config.isDevelopment));
  return app;
}
