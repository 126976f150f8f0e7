// Leases on the embedded store, and the checks of lease and revision arguments that
// every backend shares. A SQLite lease lives while its store is open (see sqlite-async).
import type { StoreLease } from './async-store';
import { StoreError } from './errors';
import type { Json } from './store';

/** The longest lease: a day (a key that should outlive that is not "alive" state). */
export const MAX_LEASE_TTL_SECONDS = 86_400;

export function checkLeaseTtl(ttlSeconds: unknown): number {
  if (!Number.isSafeInteger(ttlSeconds) || (ttlSeconds as number) < 1) {
    throw new StoreError('lease TTL must be a whole number of seconds, at least 1');
  }
  if ((ttlSeconds as number) > MAX_LEASE_TTL_SECONDS) {
    throw new StoreError(`lease TTL must be at most ${MAX_LEASE_TTL_SECONDS} seconds`);
  }
  return ttlSeconds as number;
}

export function checkRevision(revision: unknown, what: string): number {
  if (!Number.isSafeInteger(revision) || (revision as number) < 0) {
    throw new StoreError(`${what} must be a non-negative integer`);
  }
  return revision as number;
}

interface LeaseHost {
  put(key: string, value: Json): Promise<number>;
  revoke(): Promise<void>;
  /** Throws when the store is closed. */
  check(): void;
}

export class SqliteLease implements StoreLease {
  readonly id: string;
  private revoked = false;

  constructor(
    lease: number,
    readonly ttlSeconds: number,
    private readonly host: LeaseHost,
  ) {
    this.id = String(lease);
  }

  async put(key: string, value: Json): Promise<number> {
    this.checkHeld();
    return this.host.put(key, value);
  }

  async keepAlive(): Promise<void> {
    this.checkHeld();
  }

  async revoke(): Promise<void> {
    if (this.revoked) return;
    this.revoked = true;
    await this.host.revoke();
  }

  /** Never called: a lease on this store is not lost while the store is open. */
  onLost(): void {}

  private checkHeld(): void {
    this.host.check();
    if (this.revoked) throw new StoreError(`lease ${this.id} was revoked`);
  }
}
