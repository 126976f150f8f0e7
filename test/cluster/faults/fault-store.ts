// A real SQLite store in a fresh directory for fault tests, plus fault injection: a view
// of the same store whose transactions fail at a chosen write, to prove changes are atomic.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore, type SqliteStore, type Store, type StoreTx } from '../../../src/store';

export interface FaultStoreDir {
  path: string;
  open(): SqliteStore;
}

export function faultStoreDir(t: { teardown(fn: () => unknown): void }): FaultStoreDir {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-faults-'));
  const opened: SqliteStore[] = [];
  t.teardown(async () => {
    for (const s of opened) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const path = join(dir, 'ekmd.db');
  return {
    path,
    open() {
      const store = openSqliteStore(path);
      opened.push(store);
      return store;
    },
  };
}

/** `store`, except that a transaction's write to a key matching `failAt` throws. */
export function failingWrites(store: Store, failAt: (key: string) => boolean): Store {
  const fail = (key: string) => {
    if (failAt(key)) throw new Error(`injected failure writing ${key}`);
  };
  const wrap = (tx: StoreTx): StoreTx => ({
    inTransaction: true,
    get: <T>(key: string) => tx.get<T>(key),
    list: <T>(prefix: string) => tx.list<T>(prefix),
    put: (key, value) => (fail(key), tx.put(key, value)),
    delete: (key) => (fail(key), tx.delete(key)),
  });
  return new Proxy(store, {
    get: (target, name) =>
      name === 'transaction'
        ? <R>(fn: (tx: StoreTx) => R) => target.transaction((tx) => fn(wrap(tx)))
        : (target as unknown as Record<string | symbol, unknown>)[name],
  });
}
