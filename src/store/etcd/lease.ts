// Leases for keys that say "alive" (a node's liveness, the master election): etcd removes
// the keys when the lease is revoked or expires, which it does TTL seconds after the last
// keep-alive reached it. etcd3 sends keep-alives every third of the TTL and reports the
// lease lost when etcd says it has ended, or when it could not refresh for twice the TTL.
import type { Lease } from 'etcd3';
import type { StoreLease } from '../async-store';
import { MAX_VALUE_BYTES } from '../async-store';
import { checkKey, encodeBoundedValue } from '../keys';
import type { Json } from '../store';
import type { EtcdIo } from './client';
import { toStoreError } from './errors';

export class EtcdLease implements StoreLease {
  private readonly lostHandlers: ((err: Error) => void)[] = [];
  private lostError: Error | undefined;
  /** Revoked, or lost: etcd has dropped it and its keys. */
  private ended = false;

  static async grant(io: EtcdIo, ttlSeconds: number): Promise<EtcdLease> {
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
    return new EtcdLease(io, lease, id, ttlSeconds);
  }

  private constructor(
    private readonly io: EtcdIo,
    private readonly lease: Lease,
    readonly id: string,
    readonly ttlSeconds: number,
  ) {
    lease.on('lost', (err) => {
      this.ended = true;
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
    checkKey(key);
    const encoded = encodeBoundedValue(key, value, MAX_VALUE_BYTES);
    const what = `put of store key ${JSON.stringify(key)} under lease ${this.id}`;
    const res = await this.io.call(what, true, (o) =>
      this.io.client.kv.put(
        { key: this.io.dataKey(key), value: Buffer.from(encoded), lease: this.id },
        o,
      ),
    );
    return Number(res.header.revision);
  }

  async keepAlive(): Promise<void> {
    await this.io.call(`keep-alive of lease ${this.id}`, false, (o) => this.lease.keepaliveOnce(o));
  }

  async revoke(): Promise<void> {
    if (this.ended) return;
    await this.io.call(`revoke of lease ${this.id}`, true, (o) => this.lease.revoke(o));
    this.ended = true;
  }

  onLost(fn: (err: Error) => void): void {
    if (this.lostError) fn(this.lostError);
    else this.lostHandlers.push(fn);
  }

  /** Stop keep-alives without revoking (the store is closing and etcd is gone). */
  release(): void {
    this.lease.release();
  }
}
