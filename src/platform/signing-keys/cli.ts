import { parseArgs } from 'node:util';
import type { CliCommand } from '../../cli/command';
import { EXIT } from '../../cli/command';
import { systemClock } from '../../clock';
import { ensureSessionSecret, loadConfig } from '../../config';
import { migrate } from '../../db/migrate';
import { connect } from '../../db/connect';
import { AuditLog } from '../../features/audit/service';
import { SigningKeys, sealingKey } from './service';
import type { RotationResult } from './service';

/** `--retire-now` only; anything else is a usage error, before the database is opened. */
function parseRetireNow(args: string[]): boolean | string {
  try {
    const { values } = parseArgs({ args, options: { 'retire-now': { type: 'boolean' } }, strict: true, allowPositionals: false });
    return values['retire-now'] === true;
  } catch (err) {
    return (err as Error).message.replace(/\. To specify a positional argument.*$/s, '.');
  }
}

function describeRotation(result: RotationResult, retireNow: boolean): string[] {
  const lines = [`New signing key ${result.kid} is active; running servers sign with it from their next token.`];
  if (result.previousKid && retireNow) {
    lines.push(
      `The previous key ${result.previousKid} left the JWKS now: every token it signed is refused from the next request on, by every server on this database. Clients must request a new token.`,
    );
  } else if (result.previousKid) {
    lines.push(`The previous key ${result.previousKid} stays in the JWKS until ${new Date(result.previousPublishedUntil!).toISOString()}.`);
  }
  if (result.unpublishedKids.length) lines.push(`Also taken out of the JWKS now: ${result.unpublishedKids.join(', ')}.`);
  return lines;
}

/** `rotate-signing-key`: the operator page's Rotate buttons, from a shell (same database, same audit entry). */
export const rotateSigningKeyCommand: CliCommand = {
  summary: 'Retire the access-token signing key and sign with a new one (the old key stays in the JWKS until its tokens expire).',
  usage: '[--retire-now]',
  details: [
    'Without options the old key stays published until the last token it signed has expired, so no caller is interrupted.',
    '--retire-now  for a suspected leak of the key: the old key (and any older one still published) leaves the',
    '              JWKS at once, and every token it signed is refused from the next request on, by every server',
    '              on this database. Clients get 401 invalid_token and must request a new token.',
  ].join('\n'),
  async run(args) {
    const retireNow = parseRetireNow(args);
    if (typeof retireNow === 'string') {
      process.stderr.write(`rotate-signing-key: ${retireNow}\n`);
      return EXIT.usage;
    }
    const config = ensureSessionSecret(loadConfig());
    // The configured engine: DATABASE_URL's PostgreSQL, else the SQLite file in DATA_DIR.
    const connection = connect({ databaseUrl: config.databaseUrl, databaseFile: config.databaseFile, poolSize: 2 });
    try {
      await migrate(connection);
      const audit = new AuditLog(connection.db, systemClock);
      const keys = new SigningKeys(connection.db, systemClock, config.accessTokenTtl * 1000, sealingKey(config.sessionSecret), audit);
      const result = await keys.rotate({ userId: null, label: 'cli', ip: null, userAgent: null }, { retireNow });
      process.stdout.write(`${describeRotation(result, retireNow).join('\n')}\n`);
      return EXIT.ok;
    } finally {
      await connection.close();
    }
  },
};
