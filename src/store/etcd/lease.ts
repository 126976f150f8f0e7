// Leases for keys that say "alive" (a node's liveness, the master election): etcd removes
// the keys when the lease is revoked or expires, which it does TTL seconds after the last
// keep-alive reached it. etcd3 sends keep-alives every third of the TTL and reports the
// lease lost when etcd says it has ended, or when it could not refresh for twice the TTL.
// Writes go through the store (its checks, and the wait until this node's view holds them).
import type { Lease } from 'etcd3';
import { StoreError } from '../errors';
import type { Json, StoreLease } from '../store';
import type { EtcdIo } from './client';
import { toStoreError } from './errors';

/** What a lease asks of its store. */
export interface LeaseHost {
  /** Write `key` tied to `lease`; resolves once this node's view holds it. */
  putLeased(key: string, value: Json, lease: EtcdLease): Promise<number>;
  /** Write `key` tied to `lease` iff it is absent; resolves once the view agrees. */
  createLeased(key: string, value: Json, lease: EtcdLease): Promise<boolean>;
  /** Revoke `lease` (`revoke` sends it); resolves once the view has lost its keys. */
  revokeLease(lease: EtcdLease, revoke: () => Promise<void>): Promise<void>;
  leaseEnded(lease: EtcdLease): void;
}

export class EtcdLease implements StoreLease {
  private readonly lostHandlers: ((err: Error) => void)[] = [];
  private lostError: Error | undefined;
  /** Revoked, or lost: etcd has dropped it and its keys. */
  private ended = false;

  static async grant(io: EtcdIo, host: LeaseHost, ttlSeconds: number): Promise<EtcdLease> {
    const lease = io.client.lease(ttlSeconds, {
      autoKeepAlive: true,
      // etcd3 applies the deadline to the grant only, not to the keep-alives after it.
      deadline: Date.now() + io.timeoutMs,
    });
    let id: string;
    try {
      id = await io.call(`grant of a ${ttlSeconds} s lease`, true, () => lease.grant());
    } catch (err) {
      lease.release();
      throw err;
    }
    return new EtcdLease(io, host, lease, id, ttlSeconds);
  }

  private constructor(
    private readonly io: EtcdIo,
    private readonly host: LeaseHost,
    private readonly lease: Lease,
    readonly id: string,
    readonly ttlSeconds: number,
  ) {
    lease.on('lost', (err) => {
      this.ended = true;
      host.leaseEnded(this);
      this.lostError = toStoreError(err, {
        where: io.where,
        what: `lease ${id}`,
        write: false,
        timeoutMs: io.timeoutMs,
      });
      for (const fn of this.lostHandlers.splice(0)) fn(this.lostError);
    });
  }

  async put(key: string, value: Json): Promise<number> {
    this.refuseIfEnded('put', key);
    return this.host.putLeased(key, value, this);
  }

  async create(key: string, value: Json): Promise<boolean> {
    this.refuseIfEnded('create', key);
    return this.host.createLeased(key, value, this);
  }

  async keepAlive(): Promise<void> {
    await this.io.call(`keep-alive of lease ${this.id}`, false, (o) => this.lease.keepaliveOnce(o));
  }

  async revoke(): Promise<void> {
    if (this.ended) return;
    await this.host.revokeLease(this, async () => {
      await this.io.call(`revoke of lease ${this.id}`, true, (o) => this.lease.revoke(o));
      this.ended = true;
      this.host.leaseEnded(this);
    });
  }

  onLost(fn: (err: Error) => void): void {
    if (this.lostError) fn(this.lostError);
    else this.lostHandlers.push(fn);
  }

  private refuseIfEnded(what: string, key: string): void {
    if (!this.ended) return;
    throw new StoreError(
      `${this.io.where}: ${what} of store key ${JSON.stringify(key)} under lease ${this.id}: ` +
        'the lease has ended (expired or revoked); nothing written',
    );
  }

  /** Stop keep-alives without revoking (the store is closing and etcd is gone). */
  release(): void {
    this.lease.release();
  }
}
