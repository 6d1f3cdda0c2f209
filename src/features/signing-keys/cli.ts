import type { CliCommand } from '../../cli/command';
import { EXIT } from '../../cli/command';
import { systemClock } from '../../clock';
import { ensureSessionSecret, loadConfig } from '../../config';
import { migrate } from '../../db/migrate';
import { openDatabase } from '../../db/open';
import { AuditLog } from '../audit/service';
import { SigningKeys, sealingKey } from './service';

/** `rotate-signing-key`: the operator page's Rotate button, from a shell (same database, same audit entry). */
export const rotateSigningKeyCommand: CliCommand = {
  summary: 'Retire the access-token signing key and sign with a new one (the old key stays in the JWKS until its tokens expire).',
  run(args) {
    if (args.length > 0) {
      process.stderr.write(`rotate-signing-key takes no arguments (got: ${args.join(' ')}).\n`);
      return EXIT.usage;
    }
    const config = ensureSessionSecret(loadConfig());
    const db = openDatabase(config.databaseFile);
    try {
      migrate(db);
      const keys = new SigningKeys(db, systemClock, config.accessTokenTtl * 1000, sealingKey(config.sessionSecret));
      const result = keys.rotate(new AuditLog(db, systemClock), { userId: null, label: 'cli', ip: null, userAgent: null });
      const lines = [`New signing key ${result.kid} is active; running servers sign with it from their next token.`];
      if (result.previousKid) {
        lines.push(`The previous key ${result.previousKid} stays in the JWKS until ${new Date(result.previousPublishedUntil!).toISOString()}.`);
      }
      process.stdout.write(`${lines.join('\n')}\n`);
      return EXIT.ok;
    } finally {
      db.close();
    }
  },
};
