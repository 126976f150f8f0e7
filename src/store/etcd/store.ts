// The store port on etcd: cluster state shared by every node, under one key prefix per
// cluster (the layout is in client.ts). Reads come from this node's view (view.ts), a
// replica of the prefix that one watch keeps current; writes are etcd Txns that resolve
// once the view holds them, so a node reads its own writes and its watchers hear of them
// first. A transaction's function runs against the view; its commit compares what it read
// (tx.ts) and, when something changed, waits for the view to hold the change and runs the
// function again. A function that throws (a refusal) has what it read checked against
// etcd before its error goes out: refused on a view behind etcd, it runs again once the
// view catches up. Opening checks the prefix holds an ekmd store this build reads
// (marker.ts), so a wrong prefix is refused, not read as empty.
import type { Logger } from 'pino';
import { ChangeFanout } from '../change-fanout';
import { StoreConflictError, StoreError } from '../errors';
import { checkKey, checkLeaseTtl, checkPrefix, checkRevision, encodeBoundedValue } from '../keys';
import {
  MAX_VALUE_BYTES,
  type Json,
  type MaintenanceOptions,
  type MaintenanceReport,
  type Store,
  type StoreChange,
  type StoreEntry,
  type EnsembleMember,
  type StoreLease,
  type StoreTx,
} from '../store';
import { NESTED_WRITE, refuseAsync } from '../tx-buffer';
import { EtcdIo } from './client';
import { checkEtcdConfig, readTlsFiles } from './config';
import { WriteGate, type ViewHealth } from './health';
import { EtcdLease, type LeaseHost } from './lease';
import { checkMarker } from './marker';
import { DEFAULT_RETAIN_MS, maintainEtcd } from './tombstones';
import { catchUp, checkReads, commitTx, type ReadSet, type Staleness, ViewTx } from './tx';
import { EtcdView } from './view';
import { EtcdKvWatch } from './watch';
import { compareAndSetKey, deleteKey } from './writes';
import { ensembleStatus } from './ensemble';

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_MAX_ATTEMPTS = 50;

/** How to open, beside the config (which is exactly the config file's store.etcd). */
export interface EtcdOpenOptions {
  logger?: Logger;
  /** Write the store's marker when the prefix is empty: creating the cluster's store. */
  create?: boolean;
  /**
   * Deadline of each etcd call, and the longest a write waits for this node's view to
   * hold it (default 5 s): the bound on "quorum lost" and "unreachable".
   */
  requestTimeoutMs?: number;
  /** Runs of a transaction's function before StoreConflictError (default 50). */
  maxAttempts?: number;
  /** Writes are refused once the watch has been cut off this long (default: the deadline). */
  maxDisconnectedMs?: number;
}

/** Open the store at `config` (store.etcd); resolves once this node's view is loaded. */
export async function openEtcdStore(
  config: unknown,
  options: EtcdOpenOptions = {},
): Promise<EtcdStore> {
  const checked = checkEtcdConfig(config);
  const tls = checked.tls && readTlsFiles(checked.tls);
  const io = new EtcdIo(checked, tls, options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS);
  const store = new EtcdStore(io, options);
  try {
    await checkMarker(io, !!options.create);
    await store.load();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

export class EtcdStore implements Store, LeaseHost {
  /** Every node of the cluster reads and writes it. */
  readonly shared = true;
  private readonly fanout: ChangeFanout;
  private readonly view: EtcdView;
  private readonly watcher: EtcdKvWatch;
  private readonly gate: WriteGate;
  private readonly leases = new Set<EtcdLease>();
  private readonly maxAttempts: number;
  private readonly log: Logger | undefined;
  /** A transaction's function is running: a write now would not be part of it. */
  private inFunction = false;
  private closing = false;

  constructor(
    private readonly io: EtcdIo,
    options: EtcdOpenOptions,
  ) {
    this.log = options.logger;
    this.maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.fanout = new ChangeFanout(this.log);
    this.view = new EtcdView(io.where, this.fanout, this.log);
    this.watcher = new EtcdKvWatch(io, this.view, this.log);
    this.gate = new WriteGate(io, this.view, options.maxDisconnectedMs ?? io.timeoutMs);
  }

  /** Endpoints and prefix, as errors name them. */
  get where(): string {
    return this.io.where;
  }

  /** @internal openEtcdStore's: list every key, then follow the changes. */
  async load(): Promise<void> {
    await this.watcher.start();
  }

  get<T = Json>(key: string): StoreEntry<T> | undefined {
    this.io.ensureOpen('read');
    return this.view.get<T>(checkKey(key));
  }

  list<T = Json>(prefix: string): StoreEntry<T>[] {
    this.io.ensureOpen('list');
    return this.view.list<T>(checkPrefix(prefix));
  }

  async put(key: string, value: Json): Promise<number> {
    return this.putKey(key, value, undefined);
  }

  async delete(key: string): Promise<boolean> {
    checkKey(key);
    const what = `delete of store key ${JSON.stringify(key)}`;
    this.beginWrite(what);
    return this.gate.track(deleteKey(this.io, this.gate, key));
  }

  async compareAndSet(key: string, expectedRevision: number, value: Json): Promise<boolean> {
    return this.compareAndSetKey(key, expectedRevision, value, undefined);
  }

  private async compareAndSetKey(
    key: string,
    expectedRevision: number,
    value: Json,
    lease: string | undefined,
  ): Promise<boolean> {
    checkKey(key);
    checkRevision(expectedRevision, 'expected revision');
    const encoded = encodeBoundedValue(key, value, MAX_VALUE_BYTES);
    const what =
      `compare-and-set of store key ${JSON.stringify(key)}` +
      (lease ? ` under lease ${lease}` : '');
    this.beginWrite(what);
    return this.gate.track(
      compareAndSetKey(this.io, this.gate, key, expectedRevision, encoded, lease),
    );
  }

  async transaction<R>(fn: (tx: StoreTx) => R): Promise<R> {
    this.beginWrite('transaction');
    for (let attempt = 1; ; attempt++) {
      const revision = this.view.revision;
      const tx = new ViewTx(this.view);
      const run = this.runFunction(fn, tx);
      let stale: Staleness;
      if ('thrown' in run) {
        // A refusal stands only if what it read is still etcd's (the view may be behind).
        const behind = await this.refusalStale(tx.reads, revision);
        if (!behind) throw run.thrown;
        stale = behind;
      } else {
        if (tx.writes.size === 0) return run.result; // read-only: one state of the view
        this.beginWrite('transaction');
        const outcome = await this.gate.track(commitTx(this.io, tx.reads, tx.writes, revision));
        if (outcome.committed) {
          if (outcome.wrote) await this.gate.viewHolds(outcome.revision, 'transaction');
          return run.result;
        }
        stale = outcome.stale;
      }
      if (attempt >= this.maxAttempts) {
        throw new StoreConflictError(
          `${this.where}: store transaction gave up after ${attempt} attempts: what it read ` +
            'kept changing; nothing written',
        );
      }
      await catchUp(this.gate, this.view, stale, tx.reads, attempt);
    }
  }

  /**
   * What the view must hold before a refusal (a throw of the function) can be decided
   * again; undefined when what it read is current, or when etcd cannot say: then the
   * refusal stands, as it would have without the check.
   */
  private async refusalStale(reads: ReadSet, revision: number): Promise<Staleness | undefined> {
    try {
      return await checkReads(this.io, reads, revision);
    } catch (err) {
      this.log?.debug({ err }, 'a refusing store transaction could not be checked against etcd');
      return undefined;
    }
  }

  watch(prefix: string, fn: (change: StoreChange) => void): () => void {
    checkPrefix(prefix);
    this.io.ensureOpen('watch');
    return this.fanout.watch(prefix, fn);
  }

  revision(): number {
    this.io.ensureOpen('read of the revision');
    return this.view.revision;
  }

  /**
   * How this node's view stands: whether its watch reaches etcd, how long it has not,
   * how far its own writes wait to be seen, and the last failure. Reads serve the view
   * whatever this says; writes are refused while the watch has been down too long.
   */
  viewHealth(): ViewHealth {
    this.io.ensureOpen('view health');
    return this.gate.health();
  }

  async ensemble(): Promise<EnsembleMember[]> {
    return ensembleStatus(this.io);
  }

  ensembleEndpoints(): string[] {
    return [...this.io.config.endpoints];
  }

  async grantLease(ttlSeconds: number): Promise<StoreLease> {
    checkLeaseTtl(ttlSeconds);
    this.beginWrite('lease grant');
    const lease = await EtcdLease.grant(this.io, this, ttlSeconds);
    this.leases.add(lease);
    return lease;
  }

  async maintain(options: MaintenanceOptions = {}): Promise<MaintenanceReport> {
    this.io.ensureOpen('maintenance');
    return maintainEtcd(this.io, options.retainMs ?? DEFAULT_RETAIN_MS);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    try {
      // Revoked, so that what they kept alive goes now rather than a TTL later.
      await Promise.all(
        [...this.leases].map((lease) =>
          lease.revoke().catch((err: unknown) => {
            this.log?.warn({ err }, 'store lease not revoked at close');
            lease.release();
          }),
        ),
      );
      await this.watcher.stop();
    } finally {
      this.leases.clear();
      this.io.close();
      this.view.close(new StoreError(`${this.where}: the store was closed`));
      this.fanout.close();
    }
  }

  // LeaseHost: writes of the leases granted here.

  async putLeased(key: string, value: Json, lease: EtcdLease): Promise<number> {
    return this.putKey(key, value, lease.id);
  }

  async createLeased(key: string, value: Json, lease: EtcdLease): Promise<boolean> {
    return this.compareAndSetKey(key, 0, value, lease.id);
  }

  async revokeLease(lease: EtcdLease, revoke: () => Promise<void>): Promise<void> {
    const what = `revoke of lease ${lease.id}`;
    if (this.closing) return revoke(); // the view is going; nothing to wait for
    this.beginWrite(what);
    await this.gate.track(revoke());
    await this.gate.viewCatchesUp(() => !this.view.hasLeasedKey(lease.id), what);
  }

  leaseEnded(lease: EtcdLease): void {
    this.leases.delete(lease);
  }

  private async putKey(key: string, value: Json, lease: string | undefined): Promise<number> {
    checkKey(key);
    const encoded = encodeBoundedValue(key, value, MAX_VALUE_BYTES);
    const what = `put of store key ${JSON.stringify(key)}` + (lease ? ` under lease ${lease}` : '');
    this.beginWrite(what);
    const res = await this.gate.track(
      this.io.call(what, true, (o) =>
        this.io.client.kv.put(
          { key: this.io.dataKey(key), value: Buffer.from(encoded), lease: lease ?? '0' },
          o,
        ),
      ),
    );
    const revision = Number(res.header.revision);
    await this.gate.viewHolds(revision, what);
    return revision;
  }

  /** One run of `fn`: what it returned, or what it threw (refuseAsync's error is not its). */
  private runFunction<R>(fn: (tx: StoreTx) => R, tx: StoreTx): { result: R } | { thrown: unknown } {
    let result: R;
    this.inFunction = true;
    try {
      result = fn(tx);
    } catch (thrown) {
      return { thrown };
    } finally {
      this.inFunction = false;
    }
    refuseAsync(result);
    return { result };
  }

  /** Refuses a write now: the store closed, inside a transaction's function, cut off. */
  private beginWrite(what: string): void {
    this.io.ensureOpen(what);
    if (this.inFunction) throw new StoreError(NESTED_WRITE);
    this.gate.checkConnected(what);
  }
}
