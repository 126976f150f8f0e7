// The asynchronous store port: the same key/value model as store.ts, for backends that
// answer over the network (etcd) as well as the embedded one (SQLite). Revisions are
// global and monotonic, as in etcd: every committed change takes the store's next
// revision, and an entry's revision is the store revision of its key's last change (a
// delete included), so per key it only ever grows. Transactions are optimistic: reads
// record what they saw, the commit checks that none of it changed, and on a conflict the
// whole function runs again.
import type { Json, MaintenanceOptions, MaintenanceReport, StoreEntry, StoreLease } from './store';
export type { MaintenanceOptions, MaintenanceReport, StoreLease } from './store';
export { MAX_TX_BYTES, MAX_TX_WRITES, MAX_VALUE_BYTES } from './store';

/** A change seen by a watcher, in revision order. */
export type StoreChange =
  | { type: 'put'; key: string; value: Json; revision: number }
  | { type: 'delete'; key: string; revision: number }
  /**
   * The watcher could not be given every change since its last one (the history it needed
   * was compacted, or someone outside this store wrote): here is everything under the
   * prefix as of `revision`; changes continue after it.
   */
  | { type: 'resync'; entries: StoreEntry[]; revision: number };

export interface WatchOptions {
  /**
   * Deliver every change from this revision on. When the history is gone, the first
   * change delivered is a resync. Default: changes after the watch starts.
   */
  fromRevision?: number;
  /** Begin with a resync holding the prefix's current entries (list-then-watch, atomically). */
  initialResync?: boolean;
  /** A failure the watch is retrying (etcd unreachable, permission denied, ...). */
  onError?: (err: Error) => void;
}

/** Ends a watch; no change is delivered once it resolves. */
export type Unwatch = () => Promise<void>;

/**
 * Reads and buffered writes of one transaction attempt. Reads see the attempt's own
 * writes; an entry the attempt wrote itself reads back with revision 0 (not yet committed).
 */
export interface AsyncStoreTx {
  get<T = Json>(key: string): Promise<StoreEntry<T> | undefined>;
  /** Entries under `prefix` in key order; the whole prefix joins the read set. */
  list<T = Json>(prefix: string): Promise<StoreEntry<T>[]>;
  /** Buffered until commit; key and value are checked here (a bad one throws now). */
  put(key: string, value: Json): void;
  /** Buffered until commit; deleting an absent key changes nothing. */
  delete(key: string): void;
}

export interface AsyncStore {
  /** Outside a transaction reads are linearizable: they see every commit that finished. */
  get<T = Json>(key: string): Promise<StoreEntry<T> | undefined>;
  list<T = Json>(prefix: string): Promise<StoreEntry<T>[]>;
  /** Returns the revision of the write. */
  put(key: string, value: Json): Promise<number>;
  /** Returns whether the key existed. */
  delete(key: string): Promise<boolean>;
  /** Write only if the key's revision is `expectedRevision` (0 = absent). */
  compareAndSet(key: string, expectedRevision: number, value: Json): Promise<boolean>;
  /**
   * Run `fn` and commit its writes iff nothing it read changed meanwhile (each key, present
   * or absent, and each listed prefix); otherwise run it again, a bounded number of times,
   * then fail with StoreConflictError. `fn` may run more than once: its only effects must
   * be through `tx`. A function that throws commits nothing.
   */
  transaction<R>(fn: (tx: AsyncStoreTx) => Promise<R> | R): Promise<R>;
  /** Calls `fn` with each change under `prefix`; resolves once the watch is in place. */
  watch(
    prefix: string,
    fn: (change: StoreChange) => void,
    options?: WatchOptions,
  ): Promise<Unwatch>;
  /** The store's current revision. */
  revision(): Promise<number>;
  /** Grant a lease of `ttlSeconds`, kept alive until revoked, lost, or the store closes. */
  grantLease(ttlSeconds: number): Promise<StoreLease>;
  /** Drop history older than the retention (see each backend for what else it bounds). */
  maintain(options?: MaintenanceOptions): Promise<MaintenanceReport>;
  /** Ends watches and leases; every later call fails with a StoreError. */
  close(): Promise<void>;
}
