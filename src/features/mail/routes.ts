import { Router } from 'express';
import { actorFrom } from '../../http/actor';
import { requireOperator } from '../../http/auth';
import { flashAndRedirect, render } from '../../http/render';
import { parseOrThrow, validate } from '../../http/validate';
import { IdParam, OutboxQuerySchema } from './schema';
import * as mail from './service';

/** The operator's Outbox: every message with its delivery state, attempts and last error. */
export function outboxRouter(deps: mail.OutboxDeps): Router {
  const router = Router();
  router.use('/operator/outbox', requireOperator);

  router.get('/operator/outbox', (req, res) => {
    const parsed = validate(OutboxQuerySchema, req.query);
    const query = parsed.ok ? parsed.data : { page: 1 };
    const params = new URLSearchParams();
    if (parsed.ok && parsed.data.state) params.set('state', parsed.data.state);
    if (parsed.ok && parsed.data.kind) params.set('kind', parsed.data.kind);
    // Bodies may carry an access link until delivered: the list shows none, but stays out of caches anyway.
    render(req, res, { page: 'outbox/list.njk', fragment: 'outbox/_rows.njk', status: parsed.ok ? 200 : 422, noStore: true }, {
      title: 'Outbox',
      ...mail.listOutbox(deps, parsed.ok ? { state: parsed.data.state, kind: parsed.data.kind } : {}, query.page),
      delivers: Boolean(deps.mailer.delivers),
      values: parsed.ok ? parsed.data : parsed.values,
      errors: parsed.ok ? {} : parsed.errors,
      query: params.toString(),
    });
  });

  router.get('/operator/outbox/:id', (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    render(req, res, { page: 'outbox/show.njk', noStore: true }, {
      title: 'Message',
      message: mail.getOutboxMessage(deps, id),
      delivers: Boolean(deps.mailer.delivers),
    });
  });

  router.post('/operator/outbox/:id/retry', (req, res) => {
    const { id } = parseOrThrow(IdParam, req.params);
    const message = mail.retryOutboxMessage(deps, id, actorFrom(req));
    flashAndRedirect(req, res, `/operator/outbox/${id}`, `The message to ${message.to} is queued for delivery again.`);
  });

  return router;
}
