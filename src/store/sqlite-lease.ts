// Leases on the embedded store: one lives while its store is open (see sqlite.ts).
import { StoreError } from './errors';
import type { Json, StoreLease } from './store';

interface LeaseHost {
  put(key: string, value: Json): Promise<number>;
  create(key: string, value: Json): Promise<boolean>;
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

  async create(key: string, value: Json): Promise<boolean> {
    this.checkHeld();
    return this.host.create(key, value);
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
