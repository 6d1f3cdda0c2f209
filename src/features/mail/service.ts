import type { Database } from '../../db/connect';
import { transaction } from '../../db/connect';
import { paginate } from '../../http/pagination';
import { conflict, notFound } from '../../http/errors';
import type { Actor, AuditLog } from '../audit/service';
import type { Clock } from '../../clock';
import { HOUR, MINUTE } from '../../clock';
import type { Logger } from '../../log';
import { listCompanyRecipients } from '../auth/service';
import { findCompanyName } from '../companies/service';
import * as repo from './repo';
import type { OutboxRow } from './repo';
import type { MailKind, MailModels } from './templates';
import { renderMail } from './templates';

export interface OutgoingMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
  kind: string; // invitation, access_granted, access_denied, credential_saved, credential_revoked, ...
  companyId: number | null;
  /**
   * Access links the message must carry (a documentation link, an invitation link). They are kept
   * only until the message is delivered, then scrubbed from the stored copy; never logged.
   */
  secrets?: string[];
}

/**
 * Every message is written to the outbox first (so nothing is lost), then delivered.
 * Without SMTP the message is kept in the outbox and logged; an operator reads it on the Outbox page.
 * Never put a secret in a message.
 */
export interface Mailer {
  /**
   * Stores the message and returns its outbox id. Inside transaction() pass its `trx`, so the message
   * exists only if the change it tells of commits; then call wake() once the transaction has committed.
   */
  send(message: OutgoingMessage, trx?: Database): Promise<number>;
  /** True when messages are delivered (SMTP_URL set); false when they are only kept in the outbox. */
  readonly delivers?: boolean;
  /** Delivers what is due now (a no-op without SMTP): after a transaction that sent mail has committed. */
  wake?(): void;
  /** Stops the delivery worker (the app calls this on 'close'). */
  close?(): void;
}

/** Delivers one stored message; rejects with the transport's error. */
export interface MailTransport {
  deliver(message: OutboxRow): Promise<{ messageId: string | null }>;
  close?(): void;
}

/** Waits after the 1st, 2nd, ... failed attempt; after the last one the message is 'failed'. */
export const RETRY_DELAYS_MS = [1 * MINUTE, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 6 * HOUR];
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;
/** How long one delivery attempt holds a message before another run may try it again. */
const LEASE_MS = 10 * MINUTE;
const SCRUBBED = '[removed after delivery]';

export function scrubSecrets(text: string, secrets: string[]): string {
  return secrets.filter((s) => s.length > 0).reduce((out, secret) => out.split(secret).join(SCRUBBED), text);
}

function parseSecrets(json: string | null): string[] {
  if (!json) return [];
  const value = JSON.parse(json) as unknown;
  return Array.isArray(value) ? value.filter((s): s is string => typeof s === 'string') : [];
}

/** 5xx answers (a rejected recipient, say) will not change by waiting; login failures may, once SMTP_URL is fixed. */
function isPermanent(err: unknown): boolean {
  const e = err as { responseCode?: number; code?: string };
  return typeof e?.responseCode === 'number' && e.responseCode >= 500 && e.responseCode < 600 && e.code !== 'EAUTH';
}

function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\s+/g, ' ').trim().slice(0, 500) || 'unknown error';
}

export interface OutboxMailerOptions {
  /** How often the worker looks for due retries (real time; which messages are due follows the injected clock). */
  pollMs?: number;
}

/**
 * The outbox: `send` inserts the message (in the caller's transaction) and returns at once; with a
 * transport, delivery happens afterwards, with retries and backoff. Without one, messages are 'kept'.
 * Any number of mailers (replicas) may share the outbox: each message is claimed by one of them per
 * attempt (repo.claimDueOutboxMessage), so it is sent once.
 */
export class OutboxMailer implements Mailer {
  private running?: Promise<void>;
  private again = false;
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private db: Database,
    private clock: Clock,
    private logger: Logger,
    private transport?: MailTransport,
    private options: OutboxMailerOptions = {},
  ) {}

  get delivers(): boolean {
    return this.transport !== undefined;
  }

  async send(message: OutgoingMessage, trx?: Database): Promise<number> {
    const secrets = message.secrets ?? [];
    const state = this.transport ? 'queued' : 'kept';
    const id = await repo.insertOutboxMessage(trx ?? this.db, {
      companyId: message.companyId,
      to: message.to,
      subject: message.subject,
      text: message.text,
      html: message.html ?? null,
      kind: message.kind,
      state,
      secrets,
      now: this.clock.now(),
    });
    const meta = { outboxId: id, to: message.to, subject: message.subject, kind: message.kind, state };
    if (state === 'kept') {
      this.logger.info({ ...meta, text: scrubSecrets(message.text, secrets) }, 'mail kept in the outbox (no SMTP_URL); operators read it on the Outbox page');
    } else {
      this.logger.info(meta, 'mail queued');
      // In a transaction the message is not visible to the delivery run until it commits: the caller wakes us then.
      if (!trx?.isTransaction) this.wake();
    }
    return id;
  }

  /** Delivers due messages soon, after the caller's transaction has committed. */
  wake(): void {
    if (!this.transport || this.closed) return;
    setImmediate(() => void this.deliverDue());
  }

  /** Starts the worker that picks up retries as they fall due. */
  start(): void {
    if (!this.transport || this.timer || this.closed) return;
    this.timer = setInterval(() => void this.deliverDue(), this.options.pollMs ?? 30_000);
    this.timer.unref();
    this.wake();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.transport?.close?.();
  }

  /** Delivers every message due now; resolves when the queue has nothing due (a run in progress is joined). */
  deliverDue(): Promise<void> {
    if (!this.transport || this.closed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.deliverBatches();
        } while (this.again && !this.closed);
      } catch (err) {
        // After close() the database may be gone under a run still finishing; that is not worth an error.
        if (!this.closed) this.logger.error({ err }, 'mail delivery run failed');
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  /** One message at a time: each is claimed just before its attempt, so its lease covers that attempt alone. */
  private async deliverBatches(): Promise<void> {
    while (!this.closed) {
      const now = this.clock.now();
      const id = await repo.claimDueOutboxMessage(this.db, now, now + LEASE_MS);
      if (id === undefined) return;
      await this.deliverOne(id);
    }
  }

  private async deliverOne(id: number): Promise<void> {
    const message = await repo.findOutboxMessage(this.db, id);
    if (!message || !this.transport) return;
    try {
      const info = await this.transport.deliver(message);
      const secrets = parseSecrets(message.secrets);
      await repo.markOutboxSent(
        this.db,
        id,
        this.clock.now(),
        info.messageId,
        scrubSecrets(message.text, secrets),
        message.html === null ? null : scrubSecrets(message.html, secrets),
      );
      this.logger.info({ outboxId: id, to: message.to, kind: message.kind, attempt: message.attempts + 1 }, 'mail sent');
    } catch (err) {
      const attempt = message.attempts + 1;
      const giveUp = isPermanent(err) || attempt >= MAX_ATTEMPTS;
      const nextAttemptAt = giveUp ? null : this.clock.now() + RETRY_DELAYS_MS[attempt - 1];
      await repo.markOutboxAttemptFailed(this.db, id, describe(err), nextAttemptAt);
      this.logger.warn(
        { outboxId: id, to: message.to, kind: message.kind, attempt, error: describe(err), nextAttemptAt },
        giveUp ? 'mail delivery failed; kept in the outbox as failed' : 'mail delivery failed; will retry',
      );
    }
  }
}

export interface OutboxDeps {
  db: Database;
  clock: Clock;
  audit: AuditLog;
  mailer: Mailer;
}

export const OUTBOX_PAGE_SIZE = 50;

export async function listOutbox(deps: OutboxDeps, filter: repo.OutboxFilter, page: number) {
  const total = await repo.countOutboxMessages(deps.db, filter);
  const at = paginate(total, page, OUTBOX_PAGE_SIZE);
  return {
    messages: await repo.listOutboxMessages(deps.db, filter, at.limit, at.offset),
    kinds: await repo.listOutboxKinds(deps.db),
    total,
    page: at.page,
    pages: at.pages,
  };
}

export async function getOutboxMessage(deps: Pick<OutboxDeps, 'db'>, id: number): Promise<OutboxRow> {
  const message = await repo.findOutboxMessage(deps.db, id);
  if (!message) throw notFound('We could not find that message.');
  return message;
}

/** Puts a failed (or kept) message back in the queue for a new round of attempts. */
export async function retryOutboxMessage(deps: OutboxDeps, id: number, actor: Actor): Promise<OutboxRow> {
  const message = await transaction(deps.db, async (trx) => {
    const found = await getOutboxMessage({ db: trx }, id);
    if (!deps.mailer.delivers) {
      throw conflict('Messages cannot be sent: SMTP_URL is not configured. They are kept here for you to read and forward.', 'smtp_not_configured');
    }
    if (!(await repo.requeueOutboxMessage(trx, id, deps.clock.now()))) {
      throw conflict(`This message is ${found.state}; only failed or kept messages can be sent again.`, 'not_retryable');
    }
    await deps.audit.record(
      actor,
      { action: 'mail.retry', companyId: found.companyId, target: found.to, details: { outboxId: id, kind: found.kind, previousState: found.state } },
      trx,
    );
    return found;
  });
  deps.mailer.wake?.();
  return message;
}

/** A message of one of the known kinds, rendered from views/mail/<kind>.{txt,html}.njk. */
export function composeMail<K extends MailKind>(kind: K, to: string, companyId: number | null, model: MailModels[K], secrets: string[] = []): OutgoingMessage {
  const rendered = renderMail(kind, model);
  return { to, companyId, kind, subject: rendered.subject, text: rendered.text, html: rendered.html, secrets };
}

/** The messages about one of the company's credentials, which go to all of its administrators. */
export type CredentialNoticeKind = 'credential_saved' | 'credential_revoked' | 'credential_expiring' | 'credential_overlap_ended' | 'credential_leaked';
export type CredentialNotice<K extends CredentialNoticeKind> = Omit<MailModels[K], 'companyName'>;

/**
 * Tells every administrator of the company what became of a credential (saved, revoked, expiring,
 * overlap ended; never its secret: the identifier and public prefix only). Returns the outbox ids.
 * `deps.db` may be a transaction: the messages are then stored in it (and the caller wakes the mailer
 * once it has committed).
 */
export async function notifyCompanyAdmins<K extends CredentialNoticeKind>(
  deps: { db: Database; mailer: Mailer },
  companyId: number,
  kind: K,
  notice: CredentialNotice<K>,
): Promise<number[]> {
  const companyName = (await findCompanyName(deps, companyId)) ?? '';
  const model = { ...notice, companyName } as MailModels[K];
  const ids: number[] = [];
  for (const to of await listCompanyRecipients(deps, companyId)) ids.push(await deps.mailer.send(composeMail(kind, to, companyId, model), deps.db));
  return ids;
}
