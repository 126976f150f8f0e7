// The backends the contract suite runs on, and how a test reaches one: a fresh location
// (its own SQLite file, or its own etcd prefix), opened as often as a test needs stores —
// on etcd each store is a node with its own view.
import type { Test } from 'tap';
import { join } from 'node:path';
import { openSqliteStore, type Store } from '../../../src/store';
import { openEtcdStore, type EtcdStoreConfig } from '../../../src/store/etcd';
import { startTcpProxy } from '../../helpers/tcp-proxy';
import { tempDir } from '../tmpdir';

export type Location =
  { backend: 'sqlite'; path: string } | { backend: 'etcd'; config: EtcdStoreConfig };

export interface OpenOptions {
  maxAttempts?: number;
  requestTimeoutMs?: number;
}

/** A store whose requests to etcd can be held back while another store commits. */
export interface Racer {
  store: Store;
  hold(): void;
  release(): void;
}

export interface Backend {
  name: string;
  fresh(t: Test): Location;
  /** How a dead holder's leased keys end: after the TTL (etcd), or at the next open. */
  leaseEnd: 'ttl' | 'reopen';
  /**
   * Stores at one location are nodes sharing the store (etcd): one's commits reach the
   * others' views and watchers. On SQLite they share the file (reads) but not watchers.
   */
  shared: boolean;
  /**
   * etcd: a store to race, whose commit can be made to arrive after another's. SQLite has
   * none: a transaction's function runs inside the write lock, so nothing can commit
   * between its reads and its writes, and it never runs twice.
   */
  racer?(t: Test, location: Location, options?: OpenOptions): Promise<Racer>;
}

export function sqliteBackend(): Backend {
  return {
    name: 'sqlite',
    fresh: (t) => ({ backend: 'sqlite', path: join(tempDir(t), 'ekmd.db') }),
    leaseEnd: 'reopen',
    shared: false,
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
    shared: true,
    racer: async (t, location, options = {}) => {
      if (location.backend !== 'etcd') throw new Error('an etcd location');
      const { hostname, port } = new URL(endpoints[0]);
      const proxy = await startTcpProxy(t, { host: hostname, port: Number(port) });
      const endpoint = `http://127.0.0.1:${proxy.port}`;
      const store = await openEtcdStore(
        { ...location.config, endpoints: [endpoint] },
        { ...options, create: true },
      );
      t.teardown(() => store.close());
      return { store, hold: proxy.hold, release: proxy.release };
    },
  };
}

/** A store on `location` (the first one creates the etcd store). */
export async function openAt(location: Location, options: OpenOptions = {}): Promise<Store> {
  if (location.backend === 'sqlite') return openSqliteStore(location.path);
  return openEtcdStore(location.config, { ...options, create: true });
}

/** A store closed when the test ends. */
export async function client(
  t: Test,
  location: Location,
  options: OpenOptions = {},
): Promise<Store> {
  const store = await openAt(location, options);
  t.teardown(() => store.close());
  return store;
}

/** A fresh location and a first store on it. */
export async function fresh(t: Test, backend: Backend, options: OpenOptions = {}) {
  const location = backend.fresh(t);
  return { location, store: await client(t, location, options) };
}
