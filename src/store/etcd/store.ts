// The asynchronous store port on etcd: cluster state shared by every node, under one key
// prefix per cluster (the layout is in client.ts). Opening checks the prefix holds an
// ekmd store this build reads (marker.ts), so a wrong prefix is refused, not read as empty.
import type { ICompare } from 'etcd3';
import type { Logger } from 'pino';
import type {
  AsyncStore,
  AsyncStoreTx,
  MaintenanceOptions,
  MaintenanceReport,
  StoreChange,
  StoreLease,
  Unwatch,
  WatchOptions,
} from '../async-store';
import { MAX_VALUE_BYTES } from '../async-store';
import {
  checkFromRevision,
  checkKey,
  checkLeaseTtl,
  checkPrefix,
  checkRevision,
  encodeBoundedValue,
} from '../keys';
import type { Json, StoreEntry } from '../store';
import { DEFAULT_RETRY, retryConflicts, type RetryPolicy } from '../tx-buffer';
import { EtcdIo } from './client';
import { checkEtcdConfig, readTlsFiles } from './config';
import { EtcdLease } from './lease';
import { checkMarker } from './marker';
import { DEFAULT_RETAIN_MS, maintainEtcd } from './tombstones';
import { EtcdTx } from './tx';
import { EtcdPrefixWatch } from './watch';

const DEFAULT_TIMEOUT_MS = 5000;

/** How to open, beside the config (which is exactly the config file's store.etcd). */
export interface EtcdOpenOptions {
  logger?: Logger;
  /** Write the store's marker when the prefix is empty: creating the cluster's store. */
  create?: boolean;
  /** Deadline of each etcd call (default 5 s): the bound on "quorum lost" and "unreachable". */
  requestTimeoutMs?: number;
  retry?: RetryPolicy;
}

export async function openEtcdStore(
  config: unknown,
  options: EtcdOpenOptions = {},
): Promise<EtcdStore> {
  const checked = checkEtcdConfig(config);
  const tls = checked.tls && readTlsFiles(checked.tls);
  const io = new EtcdIo(checked, tls, options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS);
  try {
    await checkMarker(io, !!options.create);
  } catch (err) {
    io.close();
    throw err;
  }
  return new EtcdStore(io, options);
}

export class EtcdStore implements AsyncStore {
  private readonly retry: RetryPolicy;
  private readonly log: Logger | undefined;
  private readonly watches = new Set<EtcdPrefixWatch>();
  private readonly leases = new Set<EtcdLease>();

  constructor(
    private readonly io: EtcdIo,
    options: EtcdOpenOptions,
  ) {
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.log = options.logger;
  }

  /** Endpoints and prefix, as errors name them. */
  get where(): string {
    return this.io.where;
  }

  async get<T = Json>(key: string): Promise<StoreEntry<T> | undefined> {
    checkKey(key);
    const res = await this.io.call(`read of store key ${JSON.stringify(key)}`, false, (o) =>
      this.io.client.kv.range({ key: this.io.dataKey(key) }, o),
    );
    return res.kvs[0] && this.io.toEntry<T>(res.kvs[0]);
  }

  async list<T = Json>(prefix: string): Promise<StoreEntry<T>[]> {
    checkPrefix(prefix);
    // Pages after the first are read at its revision: compacted meanwhile, list again.
    const { kvs } = await retryConflicts(this.retry, () =>
      this.io.call(`list of store prefix ${JSON.stringify(prefix)}`, false, (o) =>
        this.io.rangeAll(this.io.dataRange(prefix), (req) => this.io.client.kv.range(req, o)),
      ),
    );
    return kvs.flatMap((kv) => this.io.toEntry<T>(kv) ?? []);
  }

  async put(key: string, value: Json): Promise<number> {
    checkKey(key);
    const encoded = encodeBoundedValue(key, value, MAX_VALUE_BYTES);
    const res = await this.io.call(`put of store key ${JSON.stringify(key)}`, true, (o) =>
      this.io.client.kv.put({ key: this.io.dataKey(key), value: Buffer.from(encoded) }, o),
    );
    return Number(res.header.revision);
  }

  async delete(key: string): Promise<boolean> {
    checkKey(key);
    const etcdKey = this.io.dataKey(key);
    const tombstone = this.io.tombstone();
    const res = await this.io.call(`delete of store key ${JSON.stringify(key)}`, true, (o) =>
      this.io.client.kv.txn(
        {
          compare: [{ key: etcdKey, target: 'Value', result: 'NotEqual', value: tombstone }],
          success: [{ request_put: { key: etcdKey, value: tombstone } }],
          failure: [],
        },
        o,
      ),
    );
    return res.succeeded;
  }

  async compareAndSet(key: string, expectedRevision: number, value: Json): Promise<boolean> {
    checkKey(key);
    checkRevision(expectedRevision, 'expected revision');
    const encoded = encodeBoundedValue(key, value, MAX_VALUE_BYTES);
    const etcdKey = this.io.dataKey(key);
    const put = { request_put: { key: etcdKey, value: Buffer.from(encoded) } };
    const what = `compare-and-set of store key ${JSON.stringify(key)}`;
    // Absent is two states in etcd, missing or a tombstone: try missing, then the
    // tombstone found, as long as it stays a tombstone.
    let mod = expectedRevision;
    for (let round = 0; round < 8; round++) {
      const compare: ICompare[] = [
        { key: etcdKey, target: 'Mod', result: 'Equal', mod_revision: mod },
      ];
      if (expectedRevision > 0) {
        // A tombstone's revision is not a live one, whatever number the caller passed.
        compare.push({
          key: etcdKey,
          target: 'Value',
          result: 'NotEqual',
          value: this.io.tombstone(),
        });
      }
      const res = await this.io.call(what, true, (o) =>
        this.io.client.kv.txn(
          { compare, success: [put], failure: [{ request_range: { key: etcdKey } }] },
          o,
        ),
      );
      if (res.succeeded) return true;
      if (expectedRevision > 0) return false;
      const current = res.responses[0]?.response_range?.kvs[0];
      if (!current || current.value.length > 0) return false; // live: not absent
      mod = Number(current.mod_revision);
    }
    return false;
  }

  async transaction<R>(fn: (tx: AsyncStoreTx) => Promise<R> | R): Promise<R> {
    this.io.ensureOpen('transaction');
    return retryConflicts(this.retry, async () => {
      const tx = new EtcdTx(this.io);
      const result = await fn(tx);
      await tx.commit();
      return result;
    });
  }

  async watch(
    prefix: string,
    fn: (change: StoreChange) => void,
    options: WatchOptions = {},
  ): Promise<Unwatch> {
    checkPrefix(prefix);
    if (options.fromRevision !== undefined) checkFromRevision(options.fromRevision);
    this.io.ensureOpen('watch');
    const watch = new EtcdPrefixWatch(this.io, prefix, fn, options, this.log);
    try {
      await watch.start();
    } catch (err) {
      await watch.stop();
      throw err;
    }
    this.watches.add(watch);
    return async () => {
      this.watches.delete(watch);
      await watch.stop();
    };
  }

  async revision(): Promise<number> {
    const res = await this.io.call('read of the store revision', false, (o) =>
      this.io.client.kv.range({ key: this.io.markerKey, count_only: true }, o),
    );
    return Number(res.header.revision);
  }

  async grantLease(ttlSeconds: number): Promise<StoreLease> {
    checkLeaseTtl(ttlSeconds);
    this.io.ensureOpen('lease grant');
    const lease = await EtcdLease.grant(this.io, ttlSeconds);
    this.leases.add(lease);
    return lease;
  }

  async maintain(options: MaintenanceOptions = {}): Promise<MaintenanceReport> {
    this.io.ensureOpen('maintenance');
    return maintainEtcd(this.io, options.retainMs ?? DEFAULT_RETAIN_MS);
  }

  async close(): Promise<void> {
    try {
      await Promise.all([...this.watches].map((w) => w.stop()));
      // Revoked, so that what they kept alive goes now rather than a TTL later.
      await Promise.all(
        [...this.leases].map((lease) =>
          lease.revoke().catch((err: unknown) => {
            this.log?.warn({ err }, 'store lease not revoked at close');
            lease.release();
          }),
        ),
      );
    } finally {
      this.watches.clear();
      this.leases.clear();
      this.io.close();
    }
  }
}
