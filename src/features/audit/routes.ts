import { Router } from 'express';
import type { Request } from 'express';
import { DAY } from '../../clock';
import type { Database } from '../../db/connect';
import { currentUser, requireUser } from '../../http/auth';
import { NEWEST_FIRST, listQuery, pager } from '../../http/pagination';
import { render } from '../../http/render';
import { parseOrThrow } from '../../http/validate';
import { listCompanies } from '../companies/service';
import { iterateAuditEntries, listAuditActions, listAuditPage } from './service';
import type { AuditFilter } from './service';
import { AuditQuerySchema } from './schema';

const PAGE_SIZE = 50;
const AUDIT_WORDS = { one: 'entry', many: 'entries', ...NEWEST_FIRST };

/** Administrators see their own company only; operators see every company and may filter by one. */
function filterFor(req: Request, query: { action?: string; from?: string; to?: string; company?: number }): AuditFilter {
  const user = currentUser(req);
  return {
    companyId: user.isOperator ? query.company : user.companyId,
    action: query.action,
    from: query.from ? Date.parse(`${query.from}T00:00:00Z`) : undefined,
    to: query.to ? Date.parse(`${query.to}T00:00:00Z`) + DAY : undefined,
  };
}

/** CSV with formula injection neutralised (a leading = + - @ is quoted with an apostrophe). */
export function csvField(value: string | number | null | undefined): string {
  let text = value === null || value === undefined ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export interface AuditRoutesDeps {
  db: Database;
}

export function auditRouter(deps: AuditRoutesDeps): Router {
  const router = Router();
  router.get('/audit', requireUser, async (req, res) => {
    const user = currentUser(req);
    const list = listQuery(AuditQuerySchema, req.query);
    const filter = filterFor(req, list.query);
    const { entries, at } = await listAuditPage(deps, filter, list.query.page, PAGE_SIZE);
    render(
      req,
      res,
      { page: 'audit/list.njk', fragment: 'audit/_rows.njk', status: list.status },
      {
        title: 'Audit log',
        entries,
        actions: await listAuditActions(deps, user.isOperator ? undefined : user.companyId),
        companies: user.isOperator ? await listCompanies({ db: deps.db }) : [],
        values: list.values,
        errors: list.errors,
        paging: pager('/audit', list.search, at, AUDIT_WORDS),
      },
    );
  });

  router.get('/audit.csv', requireUser, async (req, res) => {
    // A bad filter is refused rather than ignored: exporting everything instead would mislead.
    const filter = filterFor(req, parseOrThrow(AuditQuerySchema, req.query));
    res.set('Content-Type', 'text/csv; charset=utf-8');
    res.set('Content-Disposition', 'attachment; filename="audit-log.csv"');
    res.set('Cache-Control', 'no-store');
    res.write('time,company,actor,action,target,ip,user_agent,details\r\n');
    for await (const e of iterateAuditEntries(deps, filter)) {
      res.write([new Date(e.at).toISOString(), e.companyName, e.actor, e.action, e.target, e.ip, e.userAgent, e.details].map(csvField).join(',') + '\r\n');
    }
    res.end();
  });

  return router;
}
