import type { NextFunction, Request, RequestHandler, Response } from 'express';
import * as auth from '../features/auth/service';
import { REAUTH_CODE_FIELD, REAUTH_FIELD, ReauthSchema, safeNext } from '../features/auth/schema';
import { hasAuthenticatorApp, spendAuthenticatorCode } from '../features/second-factors/service';
import type { SecondFactorDeps } from '../features/second-factors/service';
import { actorFrom } from './actor';
import { currentUser } from './auth';
import { isHtmx, render } from './render';
import { validate } from './validate';
import type { FieldErrors } from './validate';

/** An htmx target we can swap the question into and out of again: a plain element id, nothing a selector could abuse. */
const TARGET_ID = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

const WORDS = {
  title: 'Confirm it’s you',
  explanation:
    'This action needs a recent check that it is you. Enter your password and it goes on at once, with everything you entered: nothing is lost. The check then lasts 10 minutes.',
  passwordLabel: 'Password',
  codeLabel: 'Or a code from your authenticator app',
  codeHint: 'Six digits, instead of the password.',
  button: 'Confirm and continue',
  cancel: 'Cancel',
};

const MESSAGES = {
  /** The answer to a script's JSON request (adding a passkey): the page shows it beside the password field. */
  needed: 'Confirm it’s you: enter your password (your last check is more than 10 minutes old), then try again.',
  wrong: 'That is not your password. Nothing was done; try again.',
  wrongCode: 'That code does not match, or it was already used. Nothing was done; wait for the next code and try again.',
  throttled: (retryAfter: number) => `Too many password attempts. ${auth.pleaseWait(retryAfter)} Nothing was done.`,
};

/** The fields the action was posted with, except the CSRF token (the form carries the fresh one) and a previous answer. */
function carriedFields(body: unknown): { name: string; value: string }[] {
  if (!body || typeof body !== 'object') return [];
  return Object.entries(body as Record<string, unknown>).flatMap(([name, value]) => {
    if (name === '_csrf' || name === REAUTH_FIELD || name === REAUTH_CODE_FIELD) return [];
    const values = Array.isArray(value) ? value : [value];
    return values.filter((v): v is string => typeof v === 'string').map((v) => ({ name, value: v }));
  });
}

/** Where Cancel leads: the page the htmx request came from (a plain local path), else the section of the action (`/admin/api`, `/operator/companies`). */
function cancelUrl(req: Request): string {
  const section = `/${req.path.split('/').filter(Boolean).slice(0, 2).join('/')}`;
  const current = isHtmx(req) ? req.get('HX-Current-URL') : undefined;
  if (!current || !URL.canParse(current)) return section;
  const url = new URL(current);
  const path = safeNext(url.pathname + url.search);
  return path === '/' ? section : path;
}

/**
 * Asks for the password (or, for someone with an authenticator app, its code): a page without script;
 * for htmx, the same form swapped into the element the action targeted (it keeps that element's id,
 * so the action's own answer replaces it afterwards); for a script's JSON request, JSON in the
 * console's error shape, with the message under the field it is about.
 */
function ask(req: Request, res: Response, errors: FieldErrors, status: number, offerCode: boolean): void {
  if (req.is('application/json')) {
    const shown = Object.keys(errors).length ? errors : { [REAUTH_FIELD]: MESSAGES.needed };
    res.status(status).json({ error: 'reauthentication_required', error_description: Object.values(shown)[0], errors: shown });
    return;
  }
  const requested = req.get('HX-Target');
  const targetId = isHtmx(req) && requested && TARGET_ID.test(requested) ? requested : undefined;
  if (isHtmx(req)) {
    // Without a target id the question takes the main area, as a plain form: the action then answers a full page.
    res.set('HX-Retarget', targetId ? `#${targetId}` : '#main').set('HX-Reswap', targetId ? 'outerHTML' : 'innerHTML');
  }
  render(
    req,
    res,
    { page: 'auth/confirm-identity.njk', fragment: 'auth/_confirm-identity.njk', status, noStore: true },
    {
      title: WORDS.title,
      reauth: {
        ...WORDS,
        field: REAUTH_FIELD,
        codeField: offerCode ? REAUTH_CODE_FIELD : undefined,
        action: req.originalUrl,
        carried: carriedFields(req.body),
        cancelUrl: cancelUrl(req),
        targetId,
        inline: isHtmx(req),
        errors,
      },
    },
  );
}

/**
 * Sudo mode (docs/decisions/0016-re-authentication-before-sensitive-actions.md): the guard in front of
 * each sensitive POST. A person checked within the last 10 minutes goes straight through. Otherwise
 * the answer is 401 and a password form that carries every field of the action and posts back to the
 * action's own URL with one more field, `reauth_password` (or `reauth_code`, an authenticator code); this guard checks it (whenever it is
 * present) and, when right, lets the action run in the same request with what was first typed.
 * Routes list it after their access check: `router.post(path, recentCheck, handler)`.
 */
export function requireRecentCheck(deps: auth.AuthDeps & { secondFactors: SecondFactorDeps }): RequestHandler {
  const throttle = new auth.SignInThrottle(deps.db, deps.clock);
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const body = req.body as Record<string, unknown> | undefined;
    const user = currentUser(req);
    const offerCode = () => hasAuthenticatorApp(deps, user.id);
    if (!body || !(Object.hasOwn(body, REAUTH_FIELD) || Object.hasOwn(body, REAUTH_CODE_FIELD))) {
      if (auth.isCheckRecent(deps, req.session.checkedAt)) return next();
      return ask(req, res, {}, 401, await offerCode());
    }
    const input = validate(ReauthSchema, body);
    if (!input.ok) return ask(req, res, input.errors, 422, await offerCode());
    const password = input.data[REAUTH_FIELD];
    const answer: auth.IdentityAnswer =
      password !== ''
        ? { kind: 'password', password }
        : { kind: 'authenticator_code', spend: () => spendAuthenticatorCode(deps.secondFactors, user, input.data[REAUTH_CODE_FIELD]) };
    const check = await auth.confirmIdentity(deps, throttle, user.id, answer, actorFrom(req));
    if (!check.ok && check.reason === 'throttled') {
      res.set('Retry-After', String(check.retryAfter));
      return ask(req, res, { _form: MESSAGES.throttled(check.retryAfter) }, 429, await offerCode());
    }
    if (!check.ok) {
      const errors: FieldErrors = answer.kind === 'password' ? { [REAUTH_FIELD]: MESSAGES.wrong } : { [REAUTH_CODE_FIELD]: MESSAGES.wrongCode };
      return ask(req, res, errors, 401, await offerCode());
    }
    req.session.checkedAt = check.checkedAt;
    // The action reads its own fields only.
    delete body[REAUTH_FIELD];
    delete body[REAUTH_CODE_FIELD];
    next();
  };
}
