import type { Db } from '../../db/open';
import type { Clock } from '../../clock';
import type { Logger } from '../../log';

export interface OutgoingMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
  kind: string; // invitation, access_granted, access_denied, credential_saved, credential_revoked, ...
  companyId: number | null;
}

/**
 * Every message is written to the outbox first (so nothing is lost), then delivered.
 * Without SMTP the message is kept in the outbox and logged; an operator reads it on the Outbox page.
 * Never put a secret in a message.
 */
export interface Mailer {
  send(message: OutgoingMessage): number;
}

export class OutboxMailer implements Mailer {
  constructor(
    private db: Db,
    private clock: Clock,
    private logger: Logger,
    private smtpConfigured = false,
  ) {}

  send(message: OutgoingMessage): number {
    const state = this.smtpConfigured ? 'queued' : 'kept';
    const id = Number(
      this.db
        .prepare(
          `INSERT INTO outbox (company_id, to_address, subject, text_body, html_body, kind, state, next_attempt_at, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(message.companyId, message.to, message.subject, message.text, message.html ?? null, message.kind, state, this.clock.now(), this.clock.now())
        .lastInsertRowid,
    );
    this.logger.info({ outboxId: id, to: message.to, subject: message.subject, kind: message.kind, state }, 'mail queued');
    return id;
  }
}
