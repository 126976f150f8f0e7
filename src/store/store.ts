// The store port: the cluster's durable state as a small key/value interface, backed by
// SQLite (one file in stateDir: a single node) or etcd (shared by every node of a cluster).
// Keys are '/'-separated paths ("keyServers/3"); values are JSON. No SQL or etcd call leaves
// src/store.
//
// Reads are synchronous and come from this node's view of the store: the SQLite file
// itself, or a replica of the cluster's prefix that an etcd watch keeps current (the
// informer pattern). Writes are asynchronous and optimistic: a transaction runs its function
// against the view, records what it read, and commits only if none of it changed since;
// otherwise it waits for the view to catch up and runs the function again. Once a write
// resolves, this node's view holds it (a node reads its own writes).
//
// Revisions are global and monotonic, as etcd's: every commit takes the store's next
// revision, and an entry's revision is the revision of its key's last change (a delete
// included), so per key it only ever grows.

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface StoreEntry<T = Json> {
  key: string;
  value: T;
  /** The store revision of this key's last change; per key it only grows. */
  revision: number;
}

/** A change under a watched prefix, delivered in revision order once the view holds it. */
export type StoreChange =
  | { type: 'put'; key: string; value: Json; revision: number }
  | { type: 'delete'; key: string; revision: number };

/**
 * One run of a transaction's function. Reads see the view (at one revision) with the
 * function's own writes applied; writes are buffered until the commit. An entry the function
 * wrote itself reads back with revision 0 (not yet committed).
 */
export interface StoreTx {
  /** Marks a transaction's tx: a Store is not one (its writes would go unawaited). */
  readonly inTransaction: true;
  get<T = Json>(key: string): StoreEntry<T> | undefined;
  /** Entries under `prefix` in key order; the whole prefix joins the read set. */
  list<T = Json>(prefix: string): StoreEntry<T>[];
  /** Buffered until commit; key and value are checked here (a bad one throws now). */
  put(key: string, value: Json): void;
  /** Buffered until commit; deleting an absent key changes nothing. */
  delete(key: string): void;
}

/**
 * What reading needs: a transaction's tx, or the store itself. Synchronous reads of the store
 * with nothing awaited in between see one revision of the view, so helpers that only read
 * take a StoreReader and serve both.
 */
export type StoreReader = Pick<StoreTx, 'get' | 'list'>;

/** A lease for keys that say "alive": they disappear when the lease ends. */
export interface StoreLease {
  readonly id: string;
  readonly ttlSeconds: number;
  /** Write `key` tied to this lease; returns the revision. */
  put(key: string, value: Json): Promise<number>;
  /**
   * Write `key` tied to this lease only if it is absent (an election: the first to create
   * the key holds it until its lease ends); returns whether it was written.
   */
  create(key: string, value: Json): Promise<boolean>;
  /** Refresh now (refreshes also run by themselves, every third of the TTL). */
  keepAlive(): Promise<void>;
  /** End the lease: its keys are deleted. */
  revoke(): Promise<void>;
  /** Called once if the lease ends without revoke() (it expired before a refresh landed). */
  onLost(fn: (err: Error) => void): void;
}

/** One member of the replicated store, as this node sees it. */
export interface EnsembleMember {
  /** The member's client URL, as the config names it. */
  endpoint: string;
  healthy: boolean;
  /** Why not, when not. */
  problem?: string;
}

export interface MaintenanceOptions {
  /** Keep history (and etcd's tombstones) at least this long. Default one hour. */
  retainMs?: number;
}

export interface MaintenanceReport {
  /** History before this revision is gone (0: nothing compacted). */
  compactedRevision: number;
  /** Tombstones removed for good (etcd only). */
  tombstonesRemoved: number;
}

export interface Store {
  /**
   * Whether other nodes share this store (etcd) or it is this node's alone (SQLite): only a
   * shared store has nodes that join, and a cluster sealing key to share with them.
   */
  readonly shared: boolean;
  /** The entry as this node's view holds it. */
  get<T = Json>(key: string): StoreEntry<T> | undefined;
  /** Entries under `prefix` in key order (by their UTF-8 bytes). */
  list<T = Json>(prefix: string): StoreEntry<T>[];
  /** Returns the revision of the write. */
  put(key: string, value: Json): Promise<number>;
  /** Returns whether the key existed. */
  delete(key: string): Promise<boolean>;
  /** Write only if the key's revision is `expectedRevision` (0 = absent). */
  compareAndSet(key: string, expectedRevision: number, value: Json): Promise<boolean>;
  /**
   * Run `fn` and commit its writes iff nothing it read changed meanwhile (each key, present
   * or absent, and each listed prefix); otherwise run it again, a bounded number of times,
   * then fail with StoreConflictError. `fn` is synchronous and may run more than once: its
   * only effects must be through `tx`. A function that throws commits nothing, and its error
   * is given only from a run on a state no older than every commit completed before the
   * call (on etcd, what it read is checked current; else it runs again). A read-only
   * function that returns may have read an older view: reads are eventually consistent.
   */
  transaction<R>(fn: (tx: StoreTx) => R): Promise<R>;
  /**
   * Calls `fn` with each change under `prefix` once the view holds it, in revision order,
   * from now on; returns the unsubscribe. A change this node wrote reaches `fn` before the
   * write resolves.
   */
  watch(prefix: string, fn: (change: StoreChange) => void): () => void;
  /** The revision of this node's view. */
  revision(): number;
  /** Grant a lease of `ttlSeconds`, kept alive until revoked, lost, or the store closes. */
  grantLease(ttlSeconds: number): Promise<StoreLease>;
  /** The replicated store's members and their health; none for an embedded store. */
  ensemble(): Promise<EnsembleMember[]>;
  /** The replicated store's members as configured (client URLs), no call made; none embedded. */
  ensembleEndpoints(): string[];
  /** Drop history older than the retention (see each backend for what else it bounds). */
  maintain(options?: MaintenanceOptions): Promise<MaintenanceReport>;
  /** Ends watches and leases; every later call fails with a StoreError. */
  close(): Promise<void>;
}

/** The largest encoded value (UTF-8 JSON) a key may hold; etcd refuses requests over 1.5 MiB. */
export const MAX_VALUE_BYTES = 1024 * 1024;
/** Writes in one transaction: etcd's default --max-txn-ops. */
export const MAX_TX_WRITES = 128;
/** Keys and values written by one transaction, leaving room in etcd's 1.5 MiB for compares. */
export const MAX_TX_BYTES = 1280 * 1024;
