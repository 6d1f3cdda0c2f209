import type { NextFunction, Request, RequestHandler, Response } from 'express';
import * as auth from '../features/auth/service';
import { REAUTH_FIELD, ReauthSchema, safeNext } from '../features/auth/schema';
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
  button: 'Confirm and continue',
  cancel: 'Cancel',
};

const MESSAGES = {
  wrong: 'That is not your password. Nothing was done; try again.',
  throttled: (retryAfter: number) => `Too many password attempts. ${auth.pleaseWait(retryAfter)} Nothing was done.`,
};

/** The fields the action was posted with, except the CSRF token (the form carries the fresh one) and a previous answer. */
function carriedFields(body: unknown): { name: string; value: string }[] {
  if (!body || typeof body !== 'object') return [];
  return Object.entries(body as Record<string, unknown>).flatMap(([name, value]) => {
    if (name === '_csrf' || name === REAUTH_FIELD) return [];
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
 * Asks for the password: a page without script; for htmx, the same form swapped into the element the
 * action targeted (it keeps that element's id, so the action's own answer replaces it afterwards).
 */
function ask(req: Request, res: Response, errors: FieldErrors, status: number): void {
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
 * action's own URL with one more field, `reauth_password`; this guard checks it (whenever it is
 * present) and, when right, lets the action run in the same request with what was first typed.
 * Routes list it after their access check: `router.post(path, recentCheck, handler)`.
 */
export function requireRecentCheck(deps: auth.AuthDeps): RequestHandler {
  const throttle = new auth.SignInThrottle(deps.db, deps.clock);
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || !Object.hasOwn(body, REAUTH_FIELD)) {
      if (auth.isCheckRecent(deps, req.session.checkedAt)) return next();
      return ask(req, res, {}, 401);
    }
    const input = validate(ReauthSchema, body);
    if (!input.ok) return ask(req, res, input.errors, 422);
    const answer = { kind: 'password', password: input.data[REAUTH_FIELD] } as const;
    const check = await auth.confirmIdentity(deps, throttle, currentUser(req).id, answer, actorFrom(req));
    if (!check.ok && check.reason === 'throttled') {
      res.set('Retry-After', String(check.retryAfter));
      return ask(req, res, { _form: MESSAGES.throttled(check.retryAfter) }, 429);
    }
    if (!check.ok) return ask(req, res, { [REAUTH_FIELD]: MESSAGES.wrong }, 401);
    req.session.checkedAt = check.checkedAt;
    delete body[REAUTH_FIELD]; // the action reads its own fields only
    next();
  };
}
