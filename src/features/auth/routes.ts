import { Router } from 'express';
import type { Request, Response } from 'express';
import { actorFrom } from '../../http/actor';
import { newSessionCsrfToken } from '../../http/csrf';
import { flashAndRedirect, render } from '../../http/render';
import { validate } from '../../http/validate';
import { SetPasswordSchema, SetupSchema, SignInSchema, safeNext } from './schema';
import * as auth from './service';
import type { SignInOutcome } from '../../metrics/outcomes';

export interface AuthRouterDeps extends auth.AuthDeps {
  /** Where each sign-in form answer is counted (the app's metrics; absent, nothing is counted). */
  signIns?: { signIn(outcome: SignInOutcome): void };
}

const GENERIC_FAILURE = 'That email and password do not match an active account.';

/** Ends the pre-sign-in session and starts a fresh one (new id, new CSRF token): no session fixation. Passkeys sign in with it too. */
export function startSession(req: Request, userId: number, signedInAt: number): Promise<void> {
  return new Promise((resolve, reject) => {
    req.session.regenerate((err) => {
      if (err) return reject(err);
      req.session.userId = userId;
      req.session.signedInAt = signedInAt;
      newSessionCsrfToken(req);
      req.session.save((saveErr) => (saveErr ? reject(saveErr) : resolve()));
    });
  });
}

/** The one-time link's token as the form posted it back; anything but one plain string counts as none. */
function postedToken(req: Request): string | undefined {
  const token = (req.body as Record<string, unknown> | undefined)?.token;
  return typeof token === 'string' ? token : undefined;
}

export function authRouter(deps: AuthRouterDeps): Router {
  const counted = (outcome: SignInOutcome) => deps.signIns?.signIn(outcome);
  const router = Router();
  const throttle = new auth.SignInThrottle(deps.db, deps.clock);

  const signInPage = (req: Request, res: Response, model: object = {}, status = 200) =>
    render(req, res, { page: 'auth/sign-in.njk', status }, { title: 'Sign in', values: {}, errors: {}, ...model });

  router.get('/sign-in', (req, res) => {
    if (req.user) return res.redirect(303, '/');
    signInPage(req, res, { values: { next: typeof req.query.next === 'string' ? safeNext(req.query.next) : '' } });
  });

  router.post('/sign-in', async (req, res) => {
    const input = validate(SignInSchema, req.body);
    if (!input.ok) {
      counted('bad_request');
      return signInPage(req, res, { errors: input.errors, values: { ...input.values, password: '' } }, 422);
    }
    const values = { email: input.data.email, next: input.data.next ?? '' };
    const attempt = await auth.attemptSignIn(deps, throttle, req.ip ?? 'unknown', input.data.email, input.data.password);
    if (!attempt.ok && attempt.reason === 'throttled') {
      counted('throttled');
      // The form again, with the wait: the person can still read what happened and try later.
      res.set('Retry-After', String(attempt.retryAfter));
      const minutes = Math.ceil(attempt.retryAfter / 60);
      const message = `Too many sign-in attempts. Please wait ${minutes} minute${minutes === 1 ? '' : 's'} and try again.`;
      return signInPage(req, res, { errors: { _form: message }, values }, 429);
    }
    if (!attempt.ok) {
      counted('invalid_credentials');
      await deps.audit.record(actorFrom(req, input.data.email), { action: 'auth.sign_in_failed', companyId: null, target: input.data.email });
      return signInPage(req, res, { errors: { _form: GENERIC_FAILURE }, values }, 401);
    }
    const { user } = attempt;
    await startSession(req, user.id, deps.clock.now());
    await auth.recordSignIn(deps, user, actorFrom(req, user.email));
    counted('ok');
    flashAndRedirect(req, res, safeNext(input.data.next));
  });

  router.post('/sign-out', async (req, res) => {
    const user = req.user;
    await new Promise<void>((resolve, reject) => req.session.destroy((err) => (err ? reject(err as Error) : resolve())));
    if (user) await deps.audit.record(actorFrom(req), { action: 'auth.sign_out', companyId: user.companyId, target: user.email });
    const name = req.app.get('session cookie name') as string;
    // A __Host- cookie is only replaced by one with the same Secure attribute; browsers ignore any other.
    res.clearCookie(name, { path: '/', httpOnly: true, sameSite: 'lax', secure: name.startsWith('__Host-') });
    res.redirect(303, '/sign-in');
  });

  // Pages of one-time links are never cached by the browser or a proxy: the token is in their URL and form.
  const linkPage = (req: Request, res: Response, page: string, model: object, status = 200) =>
    render(req, res, { page: `auth/${page}.njk`, status, noStore: true }, model);
  const setupLinkInvalid = (req: Request, res: Response) => linkPage(req, res, 'link-invalid', { title: 'Setup link not valid', reason: 'setup' }, 404);
  const linkInvalid = (req: Request, res: Response, reason: string) => linkPage(req, res, 'link-invalid', { title: 'Link not valid', reason }, 404);

  // First start without ADMIN_EMAIL/ADMIN_PASSWORD: the one-time link printed to the server log.
  router.get('/setup', async (req, res) => {
    const token = typeof req.query.token === 'string' ? req.query.token : undefined;
    if (!(await auth.isSetupTokenValid(deps, token))) return setupLinkInvalid(req, res);
    linkPage(req, res, 'setup', { title: 'Set up the console', values: { token, companyName: 'Default company' }, errors: {} });
  });

  router.post('/setup', async (req, res) => {
    const input = validate(SetupSchema, req.body);
    const token = postedToken(req);
    if (!(await auth.isSetupTokenValid(deps, token))) return setupLinkInvalid(req, res);
    if (!input.ok) {
      return linkPage(req, res, 'setup', { title: 'Set up the console', errors: input.errors, values: { ...input.values, password: '', confirm: '' } }, 422);
    }
    const userId = await auth.createFirstOperator(deps, input.data, actorFrom(req));
    if (userId === undefined) return setupLinkInvalid(req, res);
    await startSession(req, userId, deps.clock.now());
    flashAndRedirect(req, res, '/', 'The console is set up. Welcome!');
  });

  // Invited administrators (and password resets) choose their password through a one-time link.
  router.get('/invitation', async (req, res) => {
    const token = typeof req.query.token === 'string' ? req.query.token : undefined;
    const check = await auth.checkInvitation(deps, token);
    if (!check.ok) return linkInvalid(req, res, check.reason);
    linkPage(req, res, 'set-password', { title: 'Choose your password', email: check.invitation.email, values: { token }, errors: {} });
  });

  router.post('/invitation', async (req, res) => {
    const token = postedToken(req);
    const check = await auth.checkInvitation(deps, token);
    if (!check.ok) return linkInvalid(req, res, check.reason);
    const input = validate(SetPasswordSchema, req.body);
    if (!input.ok) {
      return linkPage(req, res, 'set-password', { title: 'Choose your password', email: check.invitation.email, values: { token }, errors: input.errors }, 422);
    }
    const result = await auth.acceptInvitation(deps, input.data.token, input.data.password, actorFrom(req));
    if (!result.ok) return linkInvalid(req, res, result.reason);
    await startSession(req, result.invitation.userId, deps.clock.now());
    flashAndRedirect(req, res, '/', 'Your password is set. Welcome!');
  });

  return router;
}
