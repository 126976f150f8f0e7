// The store port: a small key/value interface over durable state, so that SQLite (the
// embedded default) and, later, etcd (a multi-node cluster) can both back it. Keys are
// '/'-separated paths ("keyServers/3"); values are JSON-serialisable. No SQL leaves
// src/store.

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface StoreEntry<T = Json> {
  key: string;
  value: T;
  /**
   * Monotonic per-key revision; 1 on first put, +1 on each change. A delete is a change:
   * a key put again after a delete continues from there, never back at 1.
   */
  revision: number;
}

export interface WatchEvent {
  type: 'put' | 'delete';
  key: string;
  value?: Json;
  revision: number;
}

/** Reads and writes inside one atomic transaction. */
export interface StoreTx {
  get<T = Json>(key: string): StoreEntry<T> | undefined;
  put(key: string, value: Json): number;
  delete(key: string): boolean;
  /**
   * Write `value` only if the key's current revision is `expectedRevision` (0 = absent).
   * Returns false and writes nothing otherwise.
   */
  compareAndSet(key: string, expectedRevision: number, value: Json): boolean;
  list<T = Json>(prefix: string): StoreEntry<T>[];
}

export interface Store extends StoreTx {
  /** Run `fn` atomically: all its writes commit together or none do (fn throwing). */
  transaction<R>(fn: (tx: StoreTx) => R): R;
  /** Called after each committed change under `prefix`; returns an unsubscribe. */
  watch(prefix: string, fn: (event: WatchEvent) => void): () => void;
  close(): void;
}
