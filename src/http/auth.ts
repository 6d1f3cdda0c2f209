import type { NextFunction, Request, Response } from 'express';
import type { Database } from '../db/connect';
import type { Clock } from '../clock';
import { createSignedInUserLookup } from '../features/auth/repo';
import type { SignedInUser } from '../features/auth/repo';
import { notFound, unauthorized } from './errors';
import { isHtmx } from './render';

export type CurrentUser = SignedInUser;

declare module 'express-serve-static-core' {
  interface Request {
    user?: CurrentUser;
  }
}

export const ABSOLUTE_SESSION_MS = 12 * 60 * 60 * 1000;

/**
 * Loads the signed-in user on every request (one indexed read), so a disabled user or an
 * expired session stops working on the very next request.
 */
export function loadUser(db: Database, clock: Clock) {
  const findUser = createSignedInUserLookup(db);
  return async (req: Request, _res: Response, next: NextFunction): Promise<void> => {
    const userId = req.session?.userId;
    if (userId === undefined) return next();
    const tooOld = (req.session.signedInAt ?? 0) + ABSOLUTE_SESSION_MS <= clock.now();
    const user = tooOld ? undefined : await findUser(userId);
    if (!user) {
      // The old session leaves the store; a fresh, empty one takes its place in memory (later
      // middleware reads req.session) and is never saved unless something is put in it.
      req.session.regenerate((err) => next(err));
      return;
    }
    req.user = user;
    next();
  };
}

/** Signed-in users only: pages redirect to sign-in, htmx gets a full-page redirect. */
export function requireUser(req: Request, res: Response, next: NextFunction): void {
  if (req.user) return next();
  if (req.method === 'GET' && !isHtmx(req)) {
    res.redirect(303, `/sign-in?next=${encodeURIComponent(req.originalUrl)}`);
    return;
  }
  if (isHtmx(req)) {
    res.set('HX-Redirect', '/sign-in').status(401).end();
    return;
  }
  next(unauthorized());
}

export function requireOperator(req: Request, res: Response, next: NextFunction): void {
  if (!req.user) return requireUser(req, res, next);
  // 404, not 403: an administrator learns nothing about pages or companies that are not theirs.
  if (!req.user.isOperator) return next(notFound());
  next();
}

export function currentUser(req: Request): CurrentUser {
  if (!req.user) throw unauthorized();
  return req.user;
}
