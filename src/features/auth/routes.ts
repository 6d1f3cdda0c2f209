import { Router } from 'express';
import type { Request, Response } from 'express';
import { actorFrom } from '../../http/actor';
import { csrfToken } from '../../http/csrf';
import { flashAndRedirect, render } from '../../http/render';
import { validate } from '../../http/validate';
import { SetPasswordSchema, SetupSchema, SignInSchema, safeNext } from './schema';
import * as auth from './service';

const GENERIC_FAILURE = 'That email and password do not match an active account.';

/** Ends the pre-sign-in session and starts a fresh one (new id, new CSRF token): no session fixation. */
function startSession(req: Request, userId: number, signedInAt: number): Promise<void> {
  return new Promise((resolve, reject) => {
    req.session.regenerate((err) => {
      if (err) return reject(err);
      req.session.userId = userId;
      req.session.signedInAt = signedInAt;
      csrfToken(req, true);
      req.session.save((saveErr) => (saveErr ? reject(saveErr) : resolve()));
    });
  });
}

export function authRouter(deps: auth.AuthDeps): Router {
  const router = Router();
  const throttle = new auth.SignInThrottle(deps.clock);

  const signInPage = (req: Request, res: Response, model: object = {}, status = 200) =>
    render(req, res, { page: 'auth/sign-in.njk', status }, { title: 'Sign in', values: {}, errors: {}, ...model });

  router.get('/sign-in', (req, res) => {
    if (req.user) return res.redirect(303, '/');
    signInPage(req, res, { values: { next: typeof req.query.next === 'string' ? safeNext(req.query.next) : '' } });
  });

  router.post('/sign-in', async (req, res) => {
    const input = validate(SignInSchema, req.body);
    if (!input.ok) return signInPage(req, res, { errors: input.errors, values: { ...input.values, password: '' } }, 422);
    const values = { email: input.data.email, next: input.data.next ?? '' };
    const attempt = await auth.attemptSignIn(deps, throttle, req.ip ?? 'unknown', input.data.email, input.data.password);
    if (!attempt.ok && attempt.reason === 'throttled') {
      // The form again, with the wait: the person can still read what happened and try later.
      res.set('Retry-After', String(attempt.retryAfter));
      const minutes = Math.ceil(attempt.retryAfter / 60);
      const message = `Too many sign-in attempts. Please wait ${minutes} minute${minutes === 1 ? '' : 's'} and try again.`;
      return signInPage(req, res, { errors: { _form: message }, values }, 429);
    }
    if (!attempt.ok) {
      deps.audit.record(actorFrom(req, input.data.email), { action: 'auth.sign_in_failed', companyId: null, target: input.data.email });
      return signInPage(req, res, { errors: { _form: GENERIC_FAILURE }, values }, 401);
    }
    const { user } = attempt;
    await startSession(req, user.id, deps.clock.now());
    auth.recordSignIn(deps, user, actorFrom(req, user.email));
    flashAndRedirect(req, res, safeNext(input.data.next));
  });

  router.post('/sign-out', (req, res, next) => {
    const user = req.user;
    req.session.destroy((err) => {
      if (err) return next(err);
      if (user) deps.audit.record(actorFrom(req), { action: 'auth.sign_out', companyId: user.companyId, target: user.email });
      const name = req.app.get('session cookie name') as string;
      // A __Host- cookie is only replaced by one with the same Secure attribute; browsers ignore any other.
      res.clearCookie(name, { path: '/', httpOnly: true, sameSite: 'lax', secure: name.startsWith('__Host-') });
      res.redirect(303, '/sign-in');
    });
  });

  // First start without ADMIN_EMAIL/ADMIN_PASSWORD: the one-time link printed to the server log.
  router.get('/setup', (req, res) => {
    const token = typeof req.query.token === 'string' ? req.query.token : undefined;
    if (!auth.isSetupTokenValid(deps, token)) {
      return render(req, res, { page: 'auth/link-invalid.njk', status: 404 }, { title: 'Setup link not valid', reason: 'setup' });
    }
    render(req, res, { page: 'auth/setup.njk' }, { title: 'Set up the console', values: { token, companyName: 'Default company' }, errors: {} });
  });

  router.post('/setup', async (req, res) => {
    const input = validate(SetupSchema, req.body);
    const token = typeof req.body?.token === 'string' ? (req.body.token as string) : undefined;
    if (!auth.isSetupTokenValid(deps, token)) {
      return render(req, res, { page: 'auth/link-invalid.njk', status: 404 }, { title: 'Setup link not valid', reason: 'setup' });
    }
    if (!input.ok) {
      return render(req, res, { page: 'auth/setup.njk', status: 422 }, { title: 'Set up the console', errors: input.errors, values: { ...input.values, password: '', confirm: '' } });
    }
    const userId = await auth.createFirstOperator(deps, input.data, actorFrom(req));
    if (userId === undefined) {
      return render(req, res, { page: 'auth/link-invalid.njk', status: 404 }, { title: 'Setup link not valid', reason: 'setup' });
    }
    await startSession(req, userId, deps.clock.now());
    flashAndRedirect(req, res, '/', 'The console is set up. Welcome!');
  });

  // Invited administrators (and password resets) choose their password through a one-time link.
  router.get('/invitation', (req, res) => {
    const token = typeof req.query.token === 'string' ? req.query.token : undefined;
    const check = auth.checkInvitation(deps, token);
    if (!check.ok) return render(req, res, { page: 'auth/link-invalid.njk', status: 404 }, { title: 'Link not valid', reason: check.reason });
    render(req, res, { page: 'auth/set-password.njk' }, { title: 'Choose your password', email: check.invitation.email, values: { token }, errors: {} });
  });

  router.post('/invitation', async (req, res) => {
    const token = typeof req.body?.token === 'string' ? (req.body.token as string) : undefined;
    const check = auth.checkInvitation(deps, token);
    if (!check.ok) return render(req, res, { page: 'auth/link-invalid.njk', status: 404 }, { title: 'Link not valid', reason: check.reason });
    const input = validate(SetPasswordSchema, req.body);
    if (!input.ok) {
      return render(req, res, { page: 'auth/set-password.njk', status: 422 }, { title: 'Choose your password', email: check.invitation.email, values: { token }, errors: input.errors });
    }
    const result = await auth.acceptInvitation(deps, input.data.token, input.data.password, actorFrom(req));
    if (!result.ok) return render(req, res, { page: 'auth/link-invalid.njk', status: 404 }, { title: 'Link not valid', reason: result.reason });
    await startSession(req, result.invitation.userId, deps.clock.now());
    flashAndRedirect(req, res, '/', 'Your password is set. Welcome!');
  });

  return router;
}
