import { Router } from 'express';
import type { Request, RequestHandler, Response } from 'express';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { actorFrom } from '../../http/actor';
import { currentUser, requireUser } from '../../http/auth';
import { FieldError } from '../../http/errors';
import { reRenderOnFieldError } from '../../http/form-error';
import type { FieldErrors } from '../../http/validate';
import { flashAndRedirect, isHtmx, render } from '../../http/render';
import { parseOrThrow, submittedValues, validate } from '../../http/validate';
import { finishSecondStep, GENERIC_FAILURE, pendingSignInOf, SECOND_STEP_EXPIRED, SECOND_STEP_THROTTLE, startSession } from '../auth/routes';
import { safeNext } from '../auth/schema';
import { findUserById, isCheckRecent, maySignIn, pleaseWait, SignInThrottle } from '../auth/service';
import { lastFactorRequired, verifyPasskeyStep } from '../second-factors/service';
import { AddPasskeySchema, AssertionSchema, IdParam, RegistrationSchema } from './schema';
import * as passkeys from './service';
import { PASSKEYS_PATH, PasskeyRefused } from './service';
import { passkeysPage } from './page';
import type { PasskeysPageModel } from './page';

type Purpose = 'register' | 'sign-in' | 'second-factor';

/** Keeps a ceremony's challenge in the session, for this purpose and user, for CHALLENGE_TTL_MS. */
export function keepChallenge(req: Request, purpose: Purpose, userId: number | null, challenge: string, now: number): void {
  req.session.passkeyChallenge = { challenge, purpose, userId, expiresAt: now + passkeys.CHALLENGE_TTL_MS };
}

/** Takes the session's challenge out (single-use: gone whatever the answer); undefined when it is missing, expired or for something else. */
export function takeChallenge(req: Request, purpose: Purpose, userId: number | null, now: number): string | undefined {
  const kept = req.session.passkeyChallenge;
  delete req.session.passkeyChallenge;
  if (!kept || kept.purpose !== purpose || kept.userId !== userId || kept.expiresAt <= now) return undefined;
  return kept.challenge;
}

const CHALLENGE_GONE = 'This passkey request has expired or was already used. Try again.';
const NEEDS_SCRIPT_TO_ADD =
  'Adding a passkey needs JavaScript: your browser talks to the passkey. Turn JavaScript on and try again, or keep using your password.';
const NEEDS_SCRIPT_TO_SIGN_IN = 'Signing in with a passkey needs JavaScript. Turn JavaScript on, or sign in with your email and password.';
const LAST_FACTOR_REQUIRED =
  'A second factor is required for your account: add another passkey or an authenticator app (on your Security page) before you remove this one.';
const NEEDS_SCRIPT_SECOND_STEP = 'Using a passkey needs JavaScript. Turn JavaScript on and try again.';
const SECOND_STEP_REFUSED = 'That passkey is not one of yours for this account. Use one of your passkeys, or start again.';
const SIGN_IN_FAILED = 'That passkey did not sign you in. It may have been removed, or the account is not active. Sign in with your email and password.';

/**
 * The page script's refusals: messages by field ("_form" for the whole form), with the console's JSON
 * error shape beside them (`error`, `error_description`: the first message).
 */
const jsonErrors = (res: Response, status: number, errors: FieldErrors) =>
  void res.status(status).json({
    error: status === 422 ? 'invalid_field' : status === 401 ? 'passkey_refused' : 'bad_request',
    error_description: Object.values(errors)[0],
    errors,
  });

export function passkeysRouter(deps: passkeys.PasskeysDeps & { recentCheck: RequestHandler }): Router {
  const router = Router();
  router.use(PASSKEYS_PATH, requireUser);

  const page = async (req: Request, res: Response, model: PasskeysPageModel = {}, status = 200) =>
    render(
      req,
      res,
      { page: 'passkeys/list.njk', fragment: 'passkeys/_passkeys.njk', status },
      passkeysPage(await passkeys.listPasskeys(deps, currentUser(req).id), model),
    );

  router.get(PASSKEYS_PATH, (req, res) => page(req, res, { needsCheck: !isCheckRecent(deps, req.session.checkedAt) }));

  // Step 1 of adding: the name is checked, then the browser gets the options for navigator.credentials.create().
  router.post(`${PASSKEYS_PATH}/options`, deps.recentCheck, async (req, res) => {
    const input = validate(AddPasskeySchema, req.body);
    if (!input.ok) return jsonErrors(res, 422, input.errors);
    const user = currentUser(req);
    try {
      const options = await passkeys.registrationOptions(deps, user, input.data.name);
      keepChallenge(req, 'register', user.id, options.challenge, deps.clock.now());
      res.json(options);
    } catch (err) {
      if (!(err instanceof FieldError)) throw err;
      jsonErrors(res, err.status, { [err.field]: err.message });
    }
  });

  // Step 2: the browser's answer. A plain form post (no script) gets the page again, saying what is needed.
  router.post(PASSKEYS_PATH, async (req, res) => {
    if (!req.is('application/json')) {
      const input = validate(AddPasskeySchema, req.body);
      const errors = input.ok ? { _form: NEEDS_SCRIPT_TO_ADD } : input.errors;
      return page(req, res, { values: submittedValues(req.body), errors }, 422);
    }
    const input = validate(RegistrationSchema, req.body);
    if (!input.ok) return jsonErrors(res, 422, input.errors);
    const user = currentUser(req);
    const challenge = takeChallenge(req, 'register', user.id, deps.clock.now());
    if (!challenge) return jsonErrors(res, 400, { _form: CHALLENGE_GONE });
    try {
      const added = await passkeys.addPasskey(
        deps,
        user,
        input.data.name,
        input.data.response as unknown as RegistrationResponseJSON,
        challenge,
        actorFrom(req),
      );
      req.session.flash = [...(req.session.flash ?? []), { kind: 'success', message: `Passkey "${added.name}" added. You can sign in with it from now on.` }];
      res.json({ redirect: PASSKEYS_PATH });
    } catch (err) {
      if (err instanceof FieldError) return jsonErrors(res, err.status, { [err.field]: err.message });
      if (err instanceof PasskeyRefused) return jsonErrors(res, 400, { _form: err.message });
      throw err;
    }
  });

  router.post(`${PASSKEYS_PATH}/:id/rename`, async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    await passkeys.findOwnPasskey(deps, currentUser(req).id, id);
    const failed = (errors: FieldErrors, status: number) =>
      page(req, res, { renaming: { id, value: submittedValues(req.body).name ?? '', error: errors.name ?? '' } }, status);
    const input = validate(AddPasskeySchema, req.body);
    if (!input.ok) return failed(input.errors, 422);
    await reRenderOnFieldError(async () => {
      const renamed = await passkeys.renamePasskey(deps, currentUser(req), id, input.data.name, actorFrom(req));
      const message = `Passkey renamed to "${renamed.name}".`;
      if (isHtmx(req)) return page(req, res, { message });
      flashAndRedirect(req, res, PASSKEYS_PATH, message);
    }, failed);
  });

  router.post(`${PASSKEYS_PATH}/:id/delete`, deps.recentCheck, async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const removed = await passkeys.removePasskey(deps, currentUser(req), id, actorFrom(req), lastFactorRequired);
    if (!removed.ok) {
      if (isHtmx(req)) return page(req, res, { refusal: LAST_FACTOR_REQUIRED }, 409);
      return flashAndRedirect(req, res, PASSKEYS_PATH, LAST_FACTOR_REQUIRED, 'error');
    }
    const message = `Passkey "${removed.passkey.name}" removed. It no longer signs you in.`;
    if (isHtmx(req)) return page(req, res, { message });
    flashAndRedirect(req, res, PASSKEYS_PATH, message);
  });

  // Sign-in with a passkey instead of the password (the sign-in page's "Sign in with a passkey").
  router.post('/sign-in/passkey/options', async (req, res) => {
    const options = await passkeys.authenticationOptions(deps);
    keepChallenge(req, 'sign-in', null, options.challenge, deps.clock.now());
    res.json(options);
  });

  router.post('/sign-in/passkey', async (req, res) => {
    if (!req.is('application/json')) {
      return render(req, res, { page: 'auth/sign-in.njk', status: 422 }, { title: 'Sign in', values: {}, errors: { _form: NEEDS_SCRIPT_TO_SIGN_IN } });
    }
    const input = validate(AssertionSchema, req.body);
    if (!input.ok) return jsonErrors(res, 422, input.errors);
    const challenge = takeChallenge(req, 'sign-in', null, deps.clock.now());
    if (!challenge) return jsonErrors(res, 400, { _form: CHALLENGE_GONE });
    const attempt = await passkeys.signInWithPasskey(deps, input.data.response as unknown as AuthenticationResponseJSON, challenge);
    if (!attempt.ok) {
      await deps.audit.record(actorFrom(req), { action: 'auth.sign_in_failed', companyId: null, target: 'passkey', details: { method: 'passkey' } });
      return jsonErrors(res, 401, { _form: SIGN_IN_FAILED });
    }
    const { user } = attempt;
    const now = deps.clock.now();
    await startSession(req, user.id, now);
    req.session.checkedAt = now;
    await passkeys.recordPasskeySignIn(deps, user, actorFrom(req, user.email));
    const next = (req.body as { next?: unknown }).next;
    res.json({ redirect: safeNext(typeof next === 'string' ? next : undefined) });
  });

  // The second step after a password, with one of the pending user's passkeys (the second-step page's "Use a passkey").
  // Only while a sign-in waits for its second step; counted by the same throttle as codes.
  const secondStepThrottle = new SignInThrottle(deps.db, deps.clock, SECOND_STEP_THROTTLE);

  /**
   * No pending sign-in (none, it waited too long, or the account may no longer sign in): refused, and the
   * script is sent back to the sign-in page, which says why.
   */
  const secondStepGone = (req: Request, res: Response, message = SECOND_STEP_EXPIRED) => {
    if (req.session.pendingSignIn) req.session.flash = [...(req.session.flash ?? []), { kind: 'info', message }];
    delete req.session.pendingSignIn;
    res.status(401).json({ error: 'sign_in_expired', error_description: message, errors: { _form: message }, redirect: '/sign-in' });
  };

  router.post('/sign-in/second-factor/passkey/options', async (req, res) => {
    const now = deps.clock.now();
    const pending = pendingSignInOf(req, now);
    if (!pending) return secondStepGone(req, res);
    const options = await passkeys.authenticationOptions(deps, pending.userId);
    keepChallenge(req, 'second-factor', pending.userId, options.challenge, now);
    res.json(options);
  });

  router.post('/sign-in/second-factor/passkey', async (req, res) => {
    const now = deps.clock.now();
    const pending = pendingSignInOf(req, now);
    if (!pending) return secondStepGone(req, res);
    if (!req.is('application/json')) return flashAndRedirect(req, res, '/sign-in/second-factor', NEEDS_SCRIPT_SECOND_STEP, 'error');
    const input = validate(AssertionSchema, req.body);
    if (!input.ok) return jsonErrors(res, 422, input.errors);
    const challenge = takeChallenge(req, 'second-factor', pending.userId, now);
    if (!challenge) return jsonErrors(res, 400, { _form: CHALLENGE_GONE });
    const user = await findUserById(deps, pending.userId);
    if (!user || !maySignIn(user)) return secondStepGone(req, res, GENERIC_FAILURE);
    const response = input.data.response as unknown as AuthenticationResponseJSON;
    const result = await verifyPasskeyStep(deps, secondStepThrottle, user, req.ip ?? 'unknown', response, challenge, actorFrom(req, user.email));
    if (!result.ok && result.reason === 'throttled') {
      const message = `Too many attempts. ${pleaseWait(result.retryAfter)}`;
      res.set('Retry-After', String(result.retryAfter));
      return void res.status(429).json({ error: 'too_many_attempts', error_description: message, errors: { _form: message } });
    }
    if (!result.ok) return jsonErrors(res, 401, { _form: SECOND_STEP_REFUSED });
    await finishSecondStep(req, deps, user, 'passkey');
    res.json({ redirect: safeNext(pending.next) });
  });

  return router;
}
