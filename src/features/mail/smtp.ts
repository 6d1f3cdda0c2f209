import nodemailer from 'nodemailer';
import type { Clock } from '../../clock';
import type { Config } from '../../config';
import type { Database } from '../../db/connect';
import type { Logger } from '../../log';
import type { MailTransport } from './service';
import { OutboxMailer } from './service';

/**
 * SMTP through nodemailer, configured by SMTP_URL: `smtps://` is TLS from the first byte (465),
 * `smtp://` upgrades with STARTTLS whenever the server offers it, and `?requireTLS=true` refuses
 * to send without it. Credentials in the URL are percent-encoded (`smtp://user:p%40ss@host:587`).
 */
export function smtpTransport(smtpUrl: string, from: string): MailTransport {
  const transporter = nodemailer.createTransport({
    url: smtpUrl,
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 60_000,
  });
  return {
    async deliver(message) {
      const info = await transporter.sendMail({
        from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html ?? undefined,
        headers: { 'Auto-Submitted': 'auto-generated' },
      });
      return { messageId: typeof info.messageId === 'string' ? info.messageId : null };
    },
    close() {
      transporter.close();
    },
  };
}

/** The app's mailer: SMTP delivery with retries when SMTP_URL is set, the outbox alone otherwise. */
export function createMailer(config: Config, db: Database, clock: Clock, logger: Logger): OutboxMailer {
  const transport = config.smtpUrl ? smtpTransport(config.smtpUrl, config.mailFrom) : undefined;
  const mailer = new OutboxMailer(db, clock, logger, transport);
  mailer.start();
  return mailer;
}
