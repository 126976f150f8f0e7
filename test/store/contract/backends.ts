// The backends the contract suite runs on, and how a test reaches one: a fresh location
// (its own SQLite file, or its own etcd prefix), opened as often as a test needs clients.
import type { Test } from 'tap';
import { join } from 'node:path';
import { openAsyncSqliteStore, type AsyncStore } from '../../../src/store';
import { openEtcdStore, type EtcdStoreConfig } from '../../../src/store/etcd';
import type { RetryPolicy } from '../../../src/store/tx-buffer';
import { tempDir } from '../tmpdir';

export type Location =
  { backend: 'sqlite'; path: string } | { backend: 'etcd'; config: EtcdStoreConfig };

export interface OpenOptions {
  retry?: RetryPolicy;
  requestTimeoutMs?: number;
}

export interface Backend {
  name: string;
  fresh(t: Test): Location;
  /** How a dead holder's leased keys end: after the TTL (etcd), or at the next open. */
  leaseEnd: 'ttl' | 'reopen';
}

export function sqliteBackend(): Backend {
  return {
    name: 'sqlite',
    fresh: (t) => ({ backend: 'sqlite', path: join(tempDir(t), 'ekmd.db') }),
    leaseEnd: 'reopen',
  };
}

let prefixes = 0;

export function etcdBackend(endpoints: string[], name = 'etcd'): Backend {
  return {
    name,
    fresh: () => ({
      backend: 'etcd',
      config: { endpoints, prefix: `/ekmd-test/${process.pid}-${++prefixes}/` },
    }),
    leaseEnd: 'ttl',
  };
}

/** A client on `location` (the first one creates the etcd store). */
export async function openAt(location: Location, options: OpenOptions = {}): Promise<AsyncStore> {
  if (location.backend === 'sqlite') return openAsyncSqliteStore(location.path, options);
  return openEtcdStore(location.config, { ...options, create: true });
}

/** A client closed when the test ends. */
export async function client(
  t: Test,
  location: Location,
  options: OpenOptions = {},
): Promise<AsyncStore> {
  const store = await openAt(location, options);
  t.teardown(() => store.close());
  return store;
}

/** A fresh location and a first client on it. */
export async function fresh(t: Test, backend: Backend, options: OpenOptions = {}) {
  const location = backend.fresh(t);
  return { location, store: await client(t, location, options) };
}
