import type { Request, Response } from 'express';

export function isHtmx(req: Request): boolean {
  return req.get('HX-Request') === 'true';
}

interface RenderOptions {
  /** Full page template, rendered for ordinary requests. */
  page: string;
  /** Fragment template, rendered alone when htmx asked; the page includes the same fragment. */
  fragment?: string;
  status?: number;
  /** Responses that carry a secret must never be stored by any cache. */
  noStore?: boolean;
}

/** The one page-or-fragment helper: the same route serves the full page and the htmx swap. */
export function render(req: Request, res: Response, options: RenderOptions, model: object = {}): void {
  res.vary('HX-Request');
  if (options.noStore) res.set('Cache-Control', 'no-store');
  if (options.status) res.status(options.status);
  const template = options.fragment && isHtmx(req) ? options.fragment : options.page;
  res.render(template, model);
}

export type FlashKind = 'success' | 'info' | 'warning' | 'error';

/** Post/redirect/get: remember a message for the next page, then redirect (htmx follows HX-Location). */
export function flashAndRedirect(req: Request, res: Response, to: string, message?: string, kind: FlashKind = 'success'): void {
  if (message) {
    const flashes = (req.session.flash ??= []);
    flashes.push({ kind, message });
  }
  if (isHtmx(req)) {
    res.set('HX-Redirect', to).status(204).end();
    return;
  }
  res.redirect(303, to);
}
