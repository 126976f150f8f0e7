// The store as a master job sees it: reads, watches and leases as the store's, every write
// through the master fence (single-key writes become fenced transactions), so code written
// against Store (the certificate check, the rekey's steps) is fenced without knowing it.
import type { Json, Store } from '../../store/store';
import type { MasterFence } from './master-fence';

export function fencedStore(fence: MasterFence): Store {
  const store = fence.store;
  return {
    shared: store.shared,
    get: <T>(key: string) => store.get<T>(key),
    list: <T>(prefix: string) => store.list<T>(prefix),
    put: (key: string, value: Json) =>
      fence
        .transaction((tx) => {
          tx.put(key, value);
        })
        .then(() => store.get(key)?.revision ?? store.revision()),
    delete: (key: string) =>
      fence.transaction((tx) => {
        const existed = tx.get(key) !== undefined;
        tx.delete(key);
        return existed;
      }),
    compareAndSet: (key: string, expectedRevision: number, value: Json) =>
      fence.transaction((tx) => {
        if ((tx.get(key)?.revision ?? 0) !== expectedRevision) return false;
        tx.put(key, value);
        return true;
      }),
    transaction: (fn) => fence.transaction(fn),
    watch: (prefix, fn) => store.watch(prefix, fn),
    revision: () => store.revision(),
    grantLease: (ttlSeconds) => store.grantLease(ttlSeconds),
    ensemble: () => store.ensemble(),
    ensembleEndpoints: () => store.ensembleEndpoints(),
    maintain: (options) => store.maintain(options),
    // The job does not own the store: closing is the daemon's.
    close: () => Promise.resolve(),
  };
}
