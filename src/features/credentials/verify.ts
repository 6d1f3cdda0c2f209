import type { Db } from '../../db/open';
import type { Clock } from '../../clock';
import { safeEqual, sha256 } from '../../crypto';
import type { CredentialKind } from './repo';
import { API_KEY_PREFIX, CLIENT_SECRET_PREFIX, isWellFormed } from './secrets';

/** Who a verified credential belongs to. */
export interface CredentialIdentity {
  credentialId: number;
  companyId: number;
  companyName: string;
  kind: CredentialKind;
  identifier: string; // Basic username or OAuth client ID
  scopes: string[];
}

interface CandidateRow {
  id: number;
  companyId: number;
  companyName: string;
  identifier: string;
  secretHash: Buffer;
  scopes: string;
  companyScopes: string | null;
  status: string;
  retiresAt: number | null;
}

/**
 * The one verification path for API keys, client secrets and the credentials behind access tokens.
 * No cache: every call reads the row (an indexed lookup), so a Save, a revoke or the end of an
 * overlap made by any process on the same database file takes effect on the very next request.
 */
export class CredentialVerifier {
  private readonly byIdentifier;
  private readonly byId;

  constructor(
    db: Db,
    private clock: Clock,
    readonly lastUsed: LastUsedTracker,
  ) {
    const columns = `c.id, c.company_id AS companyId, co.name AS companyName, c.identifier, c.secret_hash AS secretHash,
      c.scopes, (SELECT group_concat(cs.scope, ' ') FROM company_scopes cs WHERE cs.company_id = c.company_id) AS companyScopes,
      c.status, c.retires_at AS retiresAt FROM credentials c JOIN companies co ON co.id = c.company_id`;
    this.byIdentifier = db.prepare(`SELECT ${columns} WHERE c.kind = ? AND c.identifier = ? AND c.status IN ('active', 'retiring')`);
    this.byId = db.prepare(`SELECT ${columns} WHERE c.id = ? AND c.kind = ?`);
  }

  private isWorking(row: CandidateRow, now: number): boolean {
    return row.status === 'active' || (row.status === 'retiring' && row.retiresAt !== null && row.retiresAt > now);
  }

  private identity(row: CandidateRow, kind: CredentialKind): CredentialIdentity {
    return {
      credentialId: row.id,
      companyId: row.companyId,
      companyName: row.companyName,
      kind,
      identifier: row.identifier,
      // A scope the operator has since taken from the company stops working at once, here too.
      scopes: row.scopes && row.companyScopes ? row.scopes.split(' ').filter((s) => ` ${row.companyScopes} `.includes(` ${s} `)) : [],
    };
  }

  private verify(kind: CredentialKind, prefix: string, identifier: string, secret: string): CredentialIdentity | undefined {
    // A string that is not one of our secrets is refused before any lookup.
    if (identifier.length === 0 || identifier.length > 128 || !isWellFormed(secret, prefix)) return undefined;
    const digest = sha256(secret);
    const now = this.clock.now();
    let match: CandidateRow | undefined;
    for (const row of this.byIdentifier.all(kind, identifier) as CandidateRow[]) {
      // Compare against every candidate (at most two during an overlap), in constant time.
      if (safeEqual(row.secretHash, digest) && this.isWorking(row, now)) match = row;
    }
    if (!match) return undefined;
    this.lastUsed.touch(match.id, now);
    return this.identity(match, kind);
  }

  /** Basic Auth: API username + API key. */
  verifyApiKey(username: string, key: string): CredentialIdentity | undefined {
    return this.verify('basic', API_KEY_PREFIX, username, key);
  }

  /** OAuth 2.0 client authentication: Client ID + client secret. */
  verifyClientSecret(clientId: string, secret: string): CredentialIdentity | undefined {
    return this.verify('oauth', CLIENT_SECRET_PREFIX, clientId, secret);
  }

  /** The client behind an access token, if it still works (not replaced after its overlap, not revoked). */
  findWorkingClient(credentialId: number): CredentialIdentity | undefined {
    const row = this.byId.get(credentialId, 'oauth') as CandidateRow | undefined;
    if (!row || !this.isWorking(row, this.clock.now())) return undefined;
    this.lastUsed.touch(row.id, this.clock.now());
    return this.identity(row, 'oauth');
  }
}

/**
 * Last-used times without a database write per request: kept in memory, written in one
 * transaction every few seconds and at shutdown.
 */
export class LastUsedTracker {
  private pending = new Map<number, number>();
  private timer?: NodeJS.Timeout;
  private readonly update;

  constructor(private db: Db) {
    this.update = db.prepare('UPDATE credentials SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?');
  }

  touch(credentialId: number, at: number): void {
    const seen = this.pending.get(credentialId);
    if (seen === undefined || at > seen) this.pending.set(credentialId, at);
  }

  /** Writes the coalesced times; returns how many credentials were updated. */
  flush(): number {
    if (this.pending.size === 0 || !this.db.open) return 0;
    const batch = this.pending;
    this.pending = new Map();
    this.db.transaction(() => {
      for (const [id, at] of batch) this.update.run(at, id);
    })();
    return batch.size;
  }

  start(intervalMs = 5000): void {
    this.timer ??= setInterval(() => this.flush(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
  }
}
