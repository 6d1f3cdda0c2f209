import type { NextFunction, Request, Response } from 'express';
import type { Db } from '../db/open';
import type { Clock } from '../clock';
import { notFound, unauthorized } from './errors';
import { isHtmx } from './render';

export interface CurrentUser {
  id: number;
  email: string;
  companyId: number;
  companyName: string;
  isOperator: boolean;
}

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
export function loadUser(db: Db, clock: Clock) {
  const findUser = db.prepare(
    `SELECT u.id, u.email, u.company_id AS companyId, c.name AS companyName, u.is_operator AS isOperator
       FROM users u JOIN companies c ON c.id = u.company_id
      WHERE u.id = ? AND u.disabled_at IS NULL AND u.password_hash IS NOT NULL`,
  );
  return (req: Request, _res: Response, next: NextFunction): void => {
    const userId = req.session?.userId;
    if (userId === undefined) return next();
    const tooOld = (req.session.signedInAt ?? 0) + ABSOLUTE_SESSION_MS <= clock.now();
    const row = tooOld ? undefined : (findUser.get(userId) as (Omit<CurrentUser, 'isOperator'> & { isOperator: number }) | undefined);
    if (!row) {
      // The old session leaves the store; a fresh, empty one takes its place in memory (later
      // middleware reads req.session) and is never saved unless something is put in it.
      req.session.regenerate((err) => next(err));
      return;
    }
    req.user = { ...row, isOperator: row.isOperator === 1 };
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
