import type { Clock } from '../clock';
import { MINUTE } from '../clock';
import type { Logger } from '../log';
import type { AuditLog } from '../features/audit/service';
import type { AddressRefused } from '../features/credentials/verify';

export interface RefusalLimits {
  /** How long one (credential, address) pair is audited once. */
  windowMs: number;
  /** How many distinct addresses one credential has audited per window; the rest are only counted in the log. */
  addressesPerWindow: number;
}

interface CredentialWindow {
  startedAt: number;
  addresses: Set<string>;
}

const MAX_TRACKED_CREDENTIALS = 10_000;

/**
 * Audits requests that an IP allowlist refused, bounded (decision 0020): one entry per credential and
 * address per window (a minute), at most `addressesPerWindow` addresses per credential and window, so
 * a flood of refused requests, even from many addresses, writes a handful of rows. Counted in memory,
 * per process: N replicas may each write their own entry for the same pair and minute.
 */
export class AddressRefusals {
  private windows = new Map<number, CredentialWindow>();

  constructor(
    private audit: AuditLog,
    private clock: Clock,
    private logger: Logger,
    private limits: RefusalLimits = { windowMs: MINUTE, addressesPerWindow: 20 },
  ) {}

  /** Records the refusal unless this credential and address were recorded within the window. A failed write is logged, never the request's failure. */
  async note(refused: AddressRefused): Promise<void> {
    const { identity, address } = refused;
    if (!this.firstInWindow(identity.credentialId, address)) return;
    try {
      await this.audit.record(
        { userId: null, label: identity.identifier, ip: address, userAgent: null },
        {
          action: 'credential.address_refused',
          companyId: identity.companyId,
          target: identity.identifier,
          details: { kind: identity.kind, credentialId: identity.credentialId, address },
        },
      );
    } catch (err) {
      this.logger.error({ err, credentialId: identity.credentialId }, 'recording a refused address in the audit log failed');
    }
  }

  private firstInWindow(credentialId: number, address: string): boolean {
    const now = this.clock.now();
    let window = this.windows.get(credentialId);
    if (!window || now - window.startedAt >= this.limits.windowMs) {
      if (this.windows.size >= MAX_TRACKED_CREDENTIALS) this.prune(now);
      window = { startedAt: now, addresses: new Set() };
      this.windows.set(credentialId, window);
    }
    if (window.addresses.has(address) || window.addresses.size >= this.limits.addressesPerWindow) return false;
    window.addresses.add(address);
    return true;
  }

  private prune(now: number): void {
    for (const [id, window] of this.windows) if (now - window.startedAt >= this.limits.windowMs) this.windows.delete(id);
    // Still full: every tracked credential was refused within the minute; forgetting them only audits them again.
    if (this.windows.size >= MAX_TRACKED_CREDENTIALS) this.windows.clear();
  }
}
