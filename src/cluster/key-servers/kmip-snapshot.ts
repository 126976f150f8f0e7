// Key servers and providers are read far more often than they change (UIs and monitoring
// poll the List methods), so reads share one snapshot of the records and of the active
// providers, dropped whenever a committed change touches kmip/ or keys/.
import type { Store } from '../../store/store';
import { doesNotExist } from '../errors';
import { KEY_REFERENCE_PREFIX, activeProviderIDs } from '../key-references';
import {
  listProviders,
  listServers,
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
    this.snapshot ??= {
      servers: listServers(this.store),
      providers: listProviders(this.store),
      active: activeProviderIDs(this.store),
    };
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
