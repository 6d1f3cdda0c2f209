import { Router } from 'express';
import type { Request, Response } from 'express';
import { actorFrom } from '../../http/actor';
import { newSessionCsrfToken } from '../../http/csrf';
import { flashAndRedirect, render } from '../../http/render';
import { validate } from '../../http/validate';
import { MINUTE } from '../../clock';
import { SetPasswordSchema, SetupSchema, SignInSchema, safeNext } from './schema';
import * as auth from './service';
import type { SignInOutcome } from '../../metrics/outcomes';
import { SecondStepSchema } from '../second-factors/schema';
import { secondStepModel } from '../second-factors/page';
import { listSecondFactors, verifySecondFactor } from '../second-factors/service';
import type { SecondFactorDeps, SecondFactorResult } from '../second-factors/service';

export interface AuthRouterDeps extends auth.AuthDeps {
  /** Where each sign-in form answer is counted (the app's metrics; absent, nothing is counted). */
  signIns?: { signIn(outcome: SignInOutcome): void };
  /** The second sign-in step's checks (src/features/second-factors). */
  secondFactors: SecondFactorDeps;
}

export const GENERIC_FAILURE = 'That email and password do not match an active account.';
/** How long a correct password waits for its second step before the person must start again. */
export const PENDING_SIGN_IN_MS = 5 * MINUTE;
export const SECOND_STEP_EXPIRED = 'Your sign-in waited too long for its second step. Please sign in again.';
/** The second step's throttle windows (codes and passkeys alike): `new SignInThrottle(db, clock, SECOND_STEP_THROTTLE)`. */
export const SECOND_STEP_THROTTLE = 'second-factor';

/** The session's sign-in waiting for its second step, unless there is none or it waited longer than PENDING_SIGN_IN_MS. */
export function pendingSignInOf(req: Request, now: number): Request['session']['pendingSignIn'] {
  const pending = req.session.pendingSignIn;
  return pending && pending.startedAt + PENDING_SIGN_IN_MS > now ? pending : undefined;
}

/** Both steps passed: the user is signed in (a fresh session) and the sign-in is recorded, saying how the second step was passed. */
export async function finishSecondStep(
  req: Request,
  deps: Pick<auth.AuthDeps, 'db' | 'clock' | 'audit'>,
  user: auth.UserRecord,
  method: (SecondFactorResult & { ok: true })['method'],
): Promise<void> {
  await startSession(req, user.id, deps.clock.now());
  await auth.recordSignIn(deps, user, actorFrom(req, user.email), { method, step: 'second' });
}

/** Ends the current session and starts a fresh one (new id, new CSRF token) holding `fill`'s fields: no session fixation. */
function freshSession(req: Request, fill: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    req.session.regenerate((err) => {
      if (err) return reject(err);
      fill();
      newSessionCsrfToken(req);
      req.session.save((saveErr) => (saveErr ? reject(saveErr) : resolve()));
    });
  });
}

/** Signs the user in: a fresh session; `checkedAt` says when they last proved who they are (sudo mode reads it). */
export function startSession(req: Request, userId: number, signedInAt: number): Promise<void> {
  return freshSession(req, () => {
    req.session.userId = userId;
    req.session.signedInAt = signedInAt;
    req.session.checkedAt = signedInAt;
  });
}

/** A correct password from a user with a second factor: a fresh session that signs no one in, waiting for the second step. */
function startPendingSignIn(req: Request, userId: number, now: number, next: string): Promise<void> {
  return freshSession(req, () => {
    req.session.pendingSignIn = { userId, startedAt: now, next };
  });
}

const SECOND_STEP_REFUSALS: Record<'used' | 'invalid', string> = {
  used: 'That code was already used. Wait for the next code from your app, or use a recovery code.',
  invalid: 'That code does not match. Type the six digits your authenticator app shows now, or one of your recovery codes.',
};

/** The person's words after a second step that signed them in (a recovery code is worth a warning). */
function secondStepDone(result: SecondFactorResult & { ok: true }): string | undefined {
  if (result.method !== 'recovery_code') return undefined;
  const left = result.codesLeft;
  return `You signed in with a recovery code. ${left} unused code${left === 1 ? '' : 's'} left${left <= 3 ? ': get new ones on your Security page' : ''}.`;
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
  const secondStepThrottle = new auth.SignInThrottle(deps.db, deps.clock, SECOND_STEP_THROTTLE);

  /** After a correct password: signed in at once, or, for a user with a second factor, on to the second step. */
  const passwordAccepted = async (req: Request, res: Response, user: auth.UserRecord, next: string) => {
    if ((await listSecondFactors(deps, user.id)).hasAny) {
      await startPendingSignIn(req, user.id, deps.clock.now(), next);
      return flashAndRedirect(req, res, '/sign-in/second-factor');
    }
    await startSession(req, user.id, deps.clock.now());
    await auth.recordSignIn(deps, user, actorFrom(req, user.email));
    flashAndRedirect(req, res, next);
  };

  const pendingSignIn = (req: Request) => pendingSignInOf(req, deps.clock.now());
  /** The second step's page for the pending user: only the factors they have are offered (a passkey, codes, or both). */
  const secondStepPage = async (req: Request, res: Response, userId: number, model: object = {}, status = 200) =>
    render(
      req,
      res,
      { page: 'auth/second-factor.njk', status },
      { ...secondStepModel(await listSecondFactors(deps, userId)), values: {}, errors: {}, ...model },
    );

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
      const message = `Too many sign-in attempts. ${auth.pleaseWait(attempt.retryAfter)}`;
      return signInPage(req, res, { errors: { _form: message }, values }, 429);
    }
    if (!attempt.ok) {
      counted('invalid_credentials');
      await deps.audit.record(actorFrom(req, input.data.email), { action: 'auth.sign_in_failed', companyId: null, target: input.data.email });
      return signInPage(req, res, { errors: { _form: GENERIC_FAILURE }, values }, 401);
    }
    counted('ok');
    await passwordAccepted(req, res, attempt.user, safeNext(input.data.next));
  });

  router.get('/sign-in/second-factor', async (req, res) => {
    if (req.user) return res.redirect(303, '/');
    const pending = pendingSignIn(req);
    if (!pending) return flashAndRedirect(req, res, '/sign-in', SECOND_STEP_EXPIRED, 'info');
    await secondStepPage(req, res, pending.userId);
  });

  router.post('/sign-in/second-factor', async (req, res) => {
    const pending = pendingSignIn(req);
    if (!pending) return flashAndRedirect(req, res, '/sign-in', SECOND_STEP_EXPIRED, 'info');
    const input = validate(SecondStepSchema, req.body);
    if (!input.ok) return secondStepPage(req, res, pending.userId, { errors: input.errors }, 422);
    const user = await auth.findUserById(deps, pending.userId);
    if (!user || user.disabledAt !== null || user.passwordHash === null) {
      delete req.session.pendingSignIn;
      return flashAndRedirect(req, res, '/sign-in', GENERIC_FAILURE, 'error');
    }
    const result = await verifySecondFactor(deps.secondFactors, secondStepThrottle, user, req.ip ?? 'unknown', input.data.code, actorFrom(req, user.email));
    if (!result.ok && result.reason === 'throttled') {
      res.set('Retry-After', String(result.retryAfter));
      const minutes = Math.ceil(result.retryAfter / 60);
      return secondStepPage(
        req,
        res,
        pending.userId,
        { errors: { _form: `Too many codes tried. Please wait ${minutes} minute${minutes === 1 ? '' : 's'} and try again.` } },
        429,
      );
    }
    if (!result.ok) return secondStepPage(req, res, pending.userId, { errors: { code: SECOND_STEP_REFUSALS[result.reason] } }, 401);
    await finishSecondStep(req, deps, user, result.method);
    flashAndRedirect(req, res, safeNext(pending.next), secondStepDone(result), 'warning');
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
    // A new password is the first step only: a user with a second factor still passes the second.
    if ((await listSecondFactors(deps, result.invitation.userId)).hasAny) {
      await startPendingSignIn(req, result.invitation.userId, deps.clock.now(), '/');
      return flashAndRedirect(req, res, '/sign-in/second-factor', 'Your password is set.');
    }
    await startSession(req, result.invitation.userId, deps.clock.now());
    flashAndRedirect(req, res, '/', 'Your password is set. Welcome!');
  });

  return router;
}
