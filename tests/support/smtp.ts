import net from 'node:net';
import { SMTPServer } from 'smtp-server';

// ------------------------------------------------------------------------------------------
// A real SMTP server on 127.0.0.1 (the smtp-server package) that records what it receives.

export interface Received {
  from: string;
  to: string[];
  raw: string;
}

type Refusal = { code: number; message: string } | null;

export class TestSmtpServer {
  received: Received[] = [];
  refuse: Refusal = null;
  credentials: { user: string; pass: string } | null = null;
  port = 0;
  private server: SMTPServer;

  constructor() {
    this.server = new SMTPServer({
      secure: false,
      hideSTARTTLS: true,
      allowInsecureAuth: true,
      authOptional: true,
      logger: false,
      onAuth: (auth, _session, callback) => {
        if (this.credentials && auth.username === this.credentials.user && auth.password === this.credentials.pass)
          return callback(null, { user: auth.username });
        callback(Object.assign(new Error('Authentication failed'), { responseCode: 535 }));
      },
      onMailFrom: (_address, session, callback) => {
        if (this.credentials && !session.user) return callback(Object.assign(new Error('Authentication required'), { responseCode: 530 }));
        callback();
      },
      onRcptTo: (_address, _session, callback) => {
        if (this.refuse) return callback(Object.assign(new Error(this.refuse.message), { responseCode: this.refuse.code }));
        callback();
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          this.received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString('utf8'),
          });
          callback();
        });
      },
    });
  }

  start(): Promise<void> {
    return new Promise((resolve) => {
      this.server.listen(0, '127.0.0.1', () => {
        this.port = (this.server.server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The decoded parts of a received message (quoted-printable or base64), by content type. */
export function mimeParts(raw: string): Record<string, string> {
  const boundary = /boundary="?([^";\r\n]+)"?/.exec(raw)?.[1];
  const parts: Record<string, string> = {};
  const chunks = boundary ? raw.split(`--${boundary}`).slice(1, -1) : [raw];
  for (const chunk of chunks) {
    const split = chunk.indexOf('\r\n\r\n');
    const headers = chunk.slice(0, split);
    let body = chunk.slice(split + 4).replace(/\r\n$/, '');
    const type = /Content-Type: ([^;\r\n]+)/i.exec(headers)?.[1].trim() ?? 'text/plain';
    const encoding = /Content-Transfer-Encoding: (\S+)/i.exec(headers)?.[1].toLowerCase();
    if (encoding === 'quoted-printable') {
      body = Buffer.from(
        body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
        'latin1',
      ).toString('utf8');
    } else if (encoding === 'base64') {
      body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    }
    parts[type] = body.replace(/\r\n/g, '\n');
  }
  return parts;
}

export function header(raw: string, name: string): string | undefined {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
  return new RegExp(`^${name}: (.*)$`, 'mi').exec(head)?.[1];
}
