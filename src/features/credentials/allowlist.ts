import { transaction } from '../../db/connect';
import { HttpError, notFound } from '../../http/errors';
import type { Actor } from '../audit/service';
import * as repo from './repo';
import type { CredentialRow } from './repo';
import type { CredentialsDeps } from './service';

/**
 * Sets a working credential's IP allowlist (canonical ranges from AllowlistSchema, '' for every
 * address). It bites on the next request: the platform reads the list with the credential's row.
 */
export async function setAllowlist(deps: CredentialsDeps, companyId: number, id: number, allowedRanges: string, actor: Actor): Promise<CredentialRow> {
  return transaction(deps.db, async (trx) => {
    const credential = await repo.findCompanyCredential(trx, companyId, id);
    if (!credential || credential.status === 'pending') throw notFound();
    if (credential.status !== 'active' && credential.status !== 'retiring') {
      throw new HttpError(409, 'not_working', `This credential is ${credential.status}: it works from no address, so its allowlist cannot change.`);
    }
    await repo.setAllowedRanges(trx, id, allowedRanges);
    await deps.audit.record(
      actor,
      {
        action: 'credential.allowlist',
        companyId,
        target: credential.identifier,
        details: {
          kind: credential.kind,
          credentialId: id,
          before: credential.allowedRanges.split(' ').filter(Boolean),
          after: allowedRanges.split(' ').filter(Boolean),
        },
      },
      trx,
    );
    return (await repo.findCompanyCredential(trx, companyId, id))!;
  });
}
