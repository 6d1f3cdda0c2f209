import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FakeClock } from '../src/clock';
import type { Connection } from '../src/db/connect';
import { createLogger } from '../src/log';
import { insertOutboxMessage } from '../src/features/mail/repo';
import { OutboxMailer } from '../src/features/mail/service';
import type { MailTransport } from '../src/features/mail/service';
import { TEST_ENGINE, openTestDatabase } from './helpers';

// Replicas share one outbox (issue 12): each message must still be sent once. No app here, only
// mailers on their own connections to one database, as two console processes would hold.

describe('two mailers on one outbox (two replicas)', () => {
  const clock = new FakeClock(Date.UTC(2026, 10, 1, 9, 0, 0));
  const silent = createLogger('silent');
  let dataDir: string;
  let first: Connection;
  let second: Connection;
  let drop: () => void;
  let mailers: OutboxMailer[] = [];

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-test-'));
    const opened = openTestDatabase(path.join(dataDir, 'console.db'));
    first = opened.connection;
    second = opened.another();
    drop = opened.drop;
  });
  afterEach(async () => {
    for (const mailer of mailers) mailer.close();
    mailers = [];
    await second.close();
    await first.close();
    drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** A transport that records which mailer delivered which message, taking a little while as SMTP does. */
  function recordingTransport(name: string, delivered: { by: string; id: number }[]): MailTransport {
    return {
      async deliver(message) {
        delivered.push({ by: name, id: message.id });
        await new Promise((resolve) => setTimeout(resolve, 2));
        return { messageId: `<${message.id}@${name}.test>` };
      },
    };
  }

  async function queue(count: number): Promise<number[]> {
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      const message = { companyId: null, to: `to${i}@partner.test`, subject: `Message ${i}`, text: 'x', html: null, kind: 'test', state: 'queued' as const };
      ids.push(await insertOutboxMessage(first.db, { ...message, secrets: [], now: clock.now() }));
    }
    return ids;
  }

  function mailer(connection: Connection, transport: MailTransport): OutboxMailer {
    const created = new OutboxMailer(connection.db, clock, silent, transport);
    mailers.push(created);
    return created;
  }

  it('sends each message once when both deliver at the same time, and both take a share', async () => {
    const ids = await queue(40);
    const delivered: { by: string; id: number }[] = [];
    const a = mailer(first, recordingTransport('a', delivered));
    const b = mailer(second, recordingTransport('b', delivered));

    await Promise.all([a.deliverDue(), b.deliverDue()]);

    expect(delivered.map((d) => d.id).sort((x, y) => x - y)).toEqual(ids);
    expect(new Set(delivered.map((d) => d.by))).toEqual(new Set(['a', 'b']));
    const rows = await first.db.selectFrom('outbox').select(['state', 'attempts', 'message_id']).orderBy('id').execute();
    expect(rows.every((r) => r.state === 'sent' && r.attempts === 1)).toBe(true);
    // Each row names the mailer that sent it: the one that claimed it, and only that one.
    const byId = new Map(delivered.map((d) => [d.id, d.by]));
    expect(rows.map((r) => r.message_id)).toEqual(ids.map((id) => `<${id}@${byId.get(id)}.test>`));
  });

  (TEST_ENGINE === 'postgres' ? it : it.skip)('passes over a message another replica holds, without waiting for it (SKIP LOCKED)', async () => {
    const [held, ...others] = await queue(3);
    const delivered: { by: string; id: number }[] = [];
    const a = mailer(first, recordingTransport('a', delivered));
    let timer: NodeJS.Timeout | undefined;
    const tooLong = new Promise((_resolve, reject) => (timer = setTimeout(() => reject(new Error('still waiting for the held row after 3 s')), 3000)));

    await second.db.transaction().execute(async (trx) => {
      await trx.selectFrom('outbox').select('id').where('id', '=', held).forUpdate().execute();
      await Promise.race([a.deliverDue(), tooLong]).finally(() => clearTimeout(timer));
    });
    expect(delivered.map((d) => d.id)).toEqual(others);

    await a.deliverDue(); // released: it is still due, and now taken
    expect(delivered.map((d) => d.id)).toEqual([...others, held]);
  });
});
