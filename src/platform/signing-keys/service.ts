import crypto from 'node:crypto';
import { deriveSealingKey, isSealed, seal, unseal } from '../../crypto';
import { importJWK } from 'jose';
import type { JWK } from 'jose';
import type { Database } from '../../db/connect';
import { transaction } from '../../db/connect';
import type { Clock } from '../../clock';
import { MINUTE } from '../../clock';
import { SYSTEM_ACTOR } from '../../features/audit/service';
import type { Actor, AuditLog } from '../../features/audit/service';
import * as repo from './repo';
import type { KeyWindow, SigningKeyRow } from './repo';

/** Margin past the last token's expiry before a retired key leaves the JWKS (clock skew between servers). */
export const PUBLISH_MARGIN_MS = 5 * MINUTE;

export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

export interface Signer {
  kid: string;
  /** A node:crypto key: tokens are signed with node:crypto, verified with jose (decision 0003). */
  privateKey: crypto.KeyObject;
}

export interface RotationResult {
  kid: string;
  previousKid: string | null;
  previousPublishedUntil: number | null;
  /** Emergency rotation: older retired keys that were still published and were taken out with it. */
  unpublishedKids: string[];
}

export interface RotationOptions {
  /** A suspected leak: unpublish the old key at once, so every token it signed is refused from now on. */
  retireNow?: boolean;
}

/**
 * Private keys are sealed at rest (AES-256-GCM) under a key derived from SESSION_SECRET, which lives
 * outside the database: a copy of the SQLite file alone (a leaked backup) cannot mint tokens.
 */
export function sealingKey(sessionSecret: string): Buffer {
  return deriveSealingKey(sessionSecret, 'signing-keys/v1');
}

/** The PEM, or undefined when it was sealed under another SESSION_SECRET. */
function unsealPem(stored: string, key: Buffer): string | undefined {
  return isSealed(stored) ? unseal(stored, key) : stored; // unsealed: written before sealing existed
}

/**
 * The active key, or a retired one whose tokens may still be live. One unpublished at its retirement
 * (an emergency rotation) is out at once, whatever this server's clock says.
 */
function isPublished(key: KeyWindow, now: number): boolean {
  if (key.status === 'active') return true;
  const until = key.publishedUntil ?? 0;
  return until > (key.retiredAt ?? 0) && until > now;
}

/**
 * Until when (ms) tokens signed by a key in this state may be accepted: without end while it is the
 * active key, until its publish end once retired; undefined once it has left the JWKS or was never ours.
 */
export function acceptanceEnd(key: KeyWindow | undefined, now: number): number | undefined {
  if (key === undefined || !isPublished(key, now)) return undefined;
  return key.status === 'active' ? Infinity : key.publishedUntil!;
}

/** RFC 7638 thumbprint of a P-256 public key: the kid. */
function thumbprint(jwk: { crv: string; kty: string; x: string; y: string }): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return crypto.createHash('sha256').update(canonical).digest('base64url');
}

function newKeyPair(sealKey: Buffer): { kid: string; publicJwk: string; privatePem: string } {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' }) as { crv: string; kty: string; x: string; y: string };
  const publicJwk = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
  return {
    kid: thumbprint(publicJwk),
    publicJwk: JSON.stringify(publicJwk),
    privatePem: seal(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), sealKey),
  };
}

/**
 * The access-token signing keys, stored in the database. Key material is immutable per kid, so
 * CryptoKeys are built once and kept; which kid is active, and how long a retired kid stays
 * published, are read again each time (one indexed read), so a rotation by the operator page, the
 * CLI or another process (a replica) takes effect at once. `audit` records rotations, including the
 * one a server makes by itself when SESSION_SECRET changed.
 */
export class SigningKeys {
  private readonly activeKid;
  private readonly keyWindowOf;
  private signer?: Signer;
  private readonly publicKeys = new Map<string, CryptoKey>();

  constructor(
    private db: Database,
    private clock: Clock,
    private tokenTtlMs: number,
    private sealKey: Buffer,
    private audit: AuditLog,
  ) {
    this.activeKid = repo.activeKidReader(db);
    this.keyWindowOf = repo.keyWindowReader(db);
  }

  /** First start: creates the first key. Every start: the active key's lifetime covers this server's tokens. */
  async ensureActive(createdBy = 'system'): Promise<void> {
    // Replicas start together: most find the key and write nothing, or only raise its lifetime.
    const active = await repo.findActiveKey(this.db);
    if (active) {
      if (active.tokenTtlMs < this.tokenTtlMs) await repo.extendTokenTtl(this.db, active.kid, this.tokenTtlMs);
      return;
    }
    await transaction(this.db, async (trx) => {
      const created = await repo.findActiveKey(trx); // by another process meanwhile
      if (created) await repo.extendTokenTtl(trx, created.kid, this.tokenTtlMs);
      else await repo.insertActiveKey(trx, { ...newKeyPair(this.sealKey), tokenTtlMs: this.tokenTtlMs, createdAt: this.clock.now(), createdBy });
    });
  }

  /** The key that signs now. */
  async currentSigner(): Promise<Signer> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const kid = await this.activeKid();
      if (this.signer && this.signer.kid === kid) return this.signer;
      if (kid === undefined) {
        await this.ensureActive(); // the table was emptied by hand: start again with a fresh key
        continue;
      }
      const stored = await repo.findPrivatePem(this.db, kid);
      if (stored === undefined) continue; // rotated again between the two reads: read the new one
      const pem = unsealPem(stored, this.sealKey);
      if (pem === undefined) {
        // SESSION_SECRET changed: this key can no longer sign. Its public half stays published
        // until its tokens expire; a new key signs from now on.
        await this.rotate({ ...SYSTEM_ACTOR, label: 'system (signing key sealed under another SESSION_SECRET)' });
        continue;
      }
      await repo.extendTokenTtl(this.db, kid, this.tokenTtlMs); // once per key per process, not per token
      this.signer = { kid, privateKey: crypto.createPrivateKey(pem) };
      return this.signer;
    }
    throw new Error('No usable signing key: the signing_keys table keeps changing or is damaged.');
  }

  /**
   * The public key for a kid we had (active or retired), or undefined for one we never had. Whether
   * its tokens are still accepted is `acceptedUntil`'s question, asked on every request.
   */
  async verificationKey(kid: string): Promise<CryptoKey | undefined> {
    const known = this.publicKeys.get(kid);
    if (known) return known;
    if (kid.length !== 43) return undefined; // not a SHA-256 thumbprint: not ours, no lookup
    const jwk = await repo.findPublicJwk(this.db, kid);
    if (jwk === undefined) return undefined;
    const key = (await importJWK(JSON.parse(jwk) as JWK, 'ES256')) as CryptoKey;
    this.publicKeys.set(kid, key);
    return key;
  }

  /** The state of a key (for AccessTokens.withinBounds), read now: a retirement by another process bites on the next request. */
  keyWindow(kid: string): Promise<KeyWindow | undefined> {
    return this.keyWindowOf(kid);
  }

  /** Until when (ms) tokens signed by `kid` may be accepted (see acceptanceEnd), read from the database now. */
  async acceptedUntil(kid: string): Promise<number | undefined> {
    return acceptanceEnd(await this.keyWindowOf(kid), this.clock.now());
  }

  /** RFC 7517 key set: the active key and every retired key whose tokens may still be live. */
  async jwks(): Promise<{ keys: PublicJwk[] }> {
    const published = await repo.listPublishedKeys(this.db, this.clock.now());
    return {
      keys: published.map((row) => ({
        ...(JSON.parse(row.publicJwk) as { kty: 'EC'; crv: 'P-256'; x: string; y: string }),
        kid: row.kid,
        alg: 'ES256',
        use: 'sig',
      })),
    };
  }

  /** The newest keys, each with whether it is still published and whether it was unpublished at its retirement. */
  async list(limit = 20): Promise<(SigningKeyRow & { published: boolean; retiredAtOnce: boolean })[]> {
    const now = this.clock.now();
    const keys = await repo.listKeys(this.db, limit);
    return keys.map((key) => ({
      ...key,
      published: isPublished(key, now),
      retiredAtOnce: key.status === 'retired' && key.publishedUntil === key.retiredAt,
    }));
  }

  /**
   * Rotation: a new key signs from now on; the old one is retired (private half erased) and stays
   * published until every token it signed has expired, plus a margin for clock skew. With
   * `retireNow` (a suspected leak) it leaves the JWKS at once, and so does every older key still
   * published: every token they signed is refused from the next request on.
   */
  async rotate(actor: Actor, options: RotationOptions = {}): Promise<RotationResult> {
    const retireNow = options.retireNow === true;
    const result = await transaction(this.db, async (trx): Promise<RotationResult> => {
      const now = this.clock.now();
      const previous = await repo.findActiveKey(trx);
      const unpublishedKids = retireNow ? await repo.endPublication(trx, now) : [];
      const publishedUntil = previous ? (retireNow ? now : now + Math.max(previous.tokenTtlMs, this.tokenTtlMs) + PUBLISH_MARGIN_MS) : null;
      if (previous) await repo.retireKey(trx, previous.kid, now, actor.label, publishedUntil!);
      const next = newKeyPair(this.sealKey);
      await repo.insertActiveKey(trx, { ...next, tokenTtlMs: this.tokenTtlMs, createdAt: now, createdBy: actor.label });
      await this.audit.record(
        actor,
        {
          action: 'signing_key.rotate',
          companyId: null,
          target: next.kid,
          details: {
            kid: next.kid,
            previousKid: previous?.kid ?? null,
            previousPublishedUntil: publishedUntil,
            ...(retireNow ? { retiredNow: true, unpublishedKids } : {}),
          },
        },
        trx,
      );
      return { kid: next.kid, previousKid: previous?.kid ?? null, previousPublishedUntil: publishedUntil, unpublishedKids };
    });
    this.signer = undefined;
    return result;
  }
}
