import { Router } from 'express';
import { actorFrom } from '../../http/actor';
import { requireOperator } from '../../http/auth';
import { flashAndRedirect, render } from '../../http/render';
import { NEWEST_FIRST, listQuery, pager } from '../../http/pagination';
import { parseOrThrow } from '../../http/validate';
import { IdParam, OutboxQuerySchema } from './schema';
import * as mail from './service';

const OUTBOX_WORDS = { one: 'message', many: 'messages', ...NEWEST_FIRST };

/** The operator's Outbox: every message with its delivery state, attempts and last error. */
export function outboxRouter(deps: mail.OutboxDeps): Router {
  const router = Router();
  router.use('/operator/outbox', requireOperator);

  router.get('/operator/outbox', async (req, res) => {
    const list = listQuery(OutboxQuerySchema, req.query);
    const { messages, kinds, ...at } = await mail.listOutbox(deps, { state: list.query.state, kind: list.query.kind }, list.query.page);
    // Bodies may carry an access link until delivered: the list shows none, but stays out of caches anyway.
    render(
      req,
      res,
      { page: 'outbox/list.njk', fragment: 'outbox/_rows.njk', status: list.status, noStore: true },
      {
        title: 'Outbox',
        messages,
        kinds,
        delivers: Boolean(deps.mailer.delivers),
        values: list.values,
        errors: list.errors,
        paging: pager('/operator/outbox', list.search, at, OUTBOX_WORDS),
      },
    );
  });

  router.get('/operator/outbox/:id', async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const message = await mail.getOutboxMessage(deps, id);
    render(
      req,
      res,
      { page: 'outbox/show.njk', noStore: true },
      {
        title: 'Message',
        message,
        delivers: Boolean(deps.mailer.delivers),
      },
    );
  });

  router.post('/operator/outbox/:id/retry', async (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const message = await mail.retryOutboxMessage(deps, id, actorFrom(req));
    flashAndRedirect(req, res, `/operator/outbox/${id}`, `The message to ${message.to} is queued for delivery again.`);
  });

  return router;
}
