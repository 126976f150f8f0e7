// Key servers and providers are read far more often than they change (UIs and monitoring
// poll the List methods), so reads share one snapshot of the records and of the active
// providers, dropped whenever a committed change touches kmip/ or keys/. A record whose
// key has not changed since the last snapshot is the same object in the next one, so
// what readers derive from it (a view, its serialization) can be kept by identity.
import type { Store, StoreEntry } from '../../store/store';
import { doesNotExist } from '../errors';
import { KEY_REFERENCE_PREFIX, activeProviderIDs } from '../key-references';
import {
  PROVIDER_PREFIX,
  SERVER_PREFIX,
  byID,
  type KeyProviderRecord,
  type KeyServerRecord,
} from './kmip-records';

export interface KmipSnapshot {
  readonly servers: readonly KeyServerRecord[];
  readonly providers: readonly KeyProviderRecord[];
  readonly active: ReadonlySet<number>;
}

export class KmipSnapshots {
  private snapshot: KmipSnapshot | undefined;
  /** The records of the last snapshot by key, with the revision each was read at. */
  private seen = new Map<string, StoreEntry<object>>();

  constructor(private readonly store: Store) {
    const drop = () => {
      this.snapshot = undefined;
    };
    store.watch('kmip/', drop);
    store.watch(KEY_REFERENCE_PREFIX, drop);
  }

  /** The committed state; callers must not modify it. */
  current(): KmipSnapshot {
    // Synchronous reads of the view, nothing awaited between them: one revision.
    if (this.snapshot) return this.snapshot;
    const seen = new Map<string, StoreEntry<object>>();
    const records = <T extends object>(prefix: string, id: (r: T) => number): T[] =>
      this.store
        .list<T>(prefix)
        .map((e) => {
          const last = this.seen.get(e.key);
          const entry = last?.revision === e.revision ? last : e;
          seen.set(e.key, entry);
          return entry.value as T;
        })
        .sort(byID(id));
    this.snapshot = {
      servers: records<KeyServerRecord>(SERVER_PREFIX, (r) => r.keyServerID),
      providers: records<KeyProviderRecord>(PROVIDER_PREFIX, (r) => r.keyProviderID),
      active: activeProviderIDs(this.store),
    };
    this.seen = seen;
    return this.snapshot;
  }

  server(id: number): KeyServerRecord {
    const found = this.current().servers.find((s) => s.keyServerID === id);
    if (!found) throw doesNotExist('KeyServer', id);
    return found;
  }

  provider(id: number): KeyProviderRecord {
    const found = this.current().providers.find((p) => p.keyProviderID === id);
    if (!found) throw doesNotExist('KeyProvider', id);
    return found;
  }
}
