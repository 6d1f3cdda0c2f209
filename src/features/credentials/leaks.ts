import { transaction } from '../../db/connect';
import { sha256 } from '../../crypto';
import type { Actor } from '../audit/service';
import { notifyCompanyAdmins } from '../mail/service';
import * as repo from './repo';
import type { LeakedCredential } from './repo';
import { apiPageUrl } from './service';
import type { CredentialsDeps } from './service';

/** A leak report (POST /api/v1/credentials/leaked): strings that may be our API keys or client secrets, and where they were found. */
export interface LeakReport {
  secrets: string[];
  url: string | null;
}

const LIVE = new Set(['pending', 'active', 'retiring']);

const revokeReason = (url: string | null): string => (url ? `Reported as leaked, found at ${url}` : 'Reported as leaked').slice(0, 200);

/**
 * Handles a leak report; tells the reporter nothing. Every string is hashed and all digests are
 * looked up in one query, whatever they look like: a string with a bad checksum or a foreign prefix
 * costs the same as one of ours, so neither the answer nor the work up to the lookup depends on which
 * strings are valid. Each credential found is audited; a live one (saved and working, or generated and
 * not saved yet) is revoked at once or only reported, as its company's leak policy says, and its
 * company's administrators are mailed. A credential that already stopped working is only audited.
 */
export async function reportLeakedSecrets(deps: CredentialsDeps, report: LeakReport, actor: Actor): Promise<void> {
  const digests = [...new Set(report.secrets)].map((secret) => sha256(secret));
  const { handled, at } = await transaction(deps.db, async (trx) => {
    const now = deps.clock.now();
    const live: { credential: LeakedCredential; revoked: boolean }[] = [];
    for (const credential of await repo.findCredentialsBySecretHashes(trx, digests)) {
      const isLive = LIVE.has(credential.status);
      const revoked = isLive && credential.leakPolicy === 'revoke';
      if (revoked) await repo.revokeCredential(trx, credential.id, null, revokeReason(report.url), now);
      await deps.audit.record(
        actor,
        {
          action: revoked ? 'credential.leak_revoke' : 'credential.leak_report',
          companyId: credential.companyId,
          target: credential.identifier,
          details: { kind: credential.kind, credentialId: credential.id, status: credential.status, policy: credential.leakPolicy, url: report.url },
        },
        trx,
      );
      if (isLive) live.push({ credential, revoked });
    }
    return { handled: live, at: now };
  });
  for (const { credential: c, revoked } of handled) {
    await notifyCompanyAdmins({ db: deps.db, mailer: deps.mailer }, c.companyId, 'credential_leaked', {
      credentialKind: c.kind,
      identifier: c.identifier,
      secretPrefix: c.secretPrefix,
      at,
      url: report.url,
      revoked,
      consoleUrl: apiPageUrl(deps),
    });
  }
}
