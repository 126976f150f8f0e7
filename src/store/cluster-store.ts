// The store the daemon runs on: stateDir's SQLite file for a single node, or etcd shared
// by the nodes of a cluster. On etcd, stateDir/store.json records which store this node's
// state belongs to (the prefix) and how to reach it (endpoints, TLS file paths; nothing
// secret): only the first start may create the cluster's store, a later start that names
// another prefix is refused rather than reading as an empty cluster, and ekmctl's offline
// reads find the store from the stateDir alone.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { openSqliteStore, STORE_FILE, StoreError, type Store } from './';
import type { EtcdStoreConfig } from './etcd/config';
import { JOINED_STORE_FILE } from './state-files';
import { writeFileAtomic } from '../util/atomic-file';

export type StoreSetting = { backend: 'sqlite' | 'etcd'; etcd?: EtcdStoreConfig };

export async function openClusterStore(
  config: { stateDir: string; store: StoreSetting },
  logger?: Logger,
): Promise<Store> {
  if (config.store.backend === 'sqlite') {
    return openSqliteStore(join(config.stateDir, STORE_FILE), logger ? { logger } : {});
  }
  const etcd = config.store.etcd!;
  const file = join(config.stateDir, JOINED_STORE_FILE);
  const joined = readJoinedStore(config.stateDir);
  if (joined && joined.prefix !== etcd.prefix) {
    throw new StoreError(
      `this node's state belongs to the store under prefix ${JSON.stringify(joined.prefix)}, ` +
        `but store.etcd.prefix is ${JSON.stringify(etcd.prefix)}; fix the config, or move ` +
        `${file} aside to join another cluster's store`,
    );
  }
  const store = await openEtcd(etcd, { create: !joined, logger });
  if (JSON.stringify(joined) !== JSON.stringify(etcd)) {
    writeFileAtomic(file, `${JSON.stringify(etcd, null, 2)}\n`, 0o600);
  }
  return store;
}

/** The etcd store named in stateDir/store.json, or undefined when the node is on SQLite. */
export function readJoinedStore(stateDir: string): EtcdStoreConfig | undefined {
  const file = join(stateDir, JOINED_STORE_FILE);
  if (!existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    parsed = undefined;
  }
  const { checkEtcdConfig } = require('./etcd/config') as typeof import('./etcd/config');
  try {
    return checkEtcdConfig(parsed, file);
  } catch (err) {
    throw new StoreError(
      `${file} is damaged (${(err as Error).message}); it should name the etcd store this node joined`,
    );
  }
}

/** The etcd backend, loaded only here: etcd3 and gRPC stay out of a single node's boot. */
export function openEtcd(
  etcd: EtcdStoreConfig,
  options: { create?: boolean; logger?: Logger | undefined },
): Promise<Store> {
  const { openEtcdStore } = require('./etcd') as typeof import('./etcd');
  return openEtcdStore(etcd, {
    create: !!options.create,
    ...(options.logger ? { logger: options.logger } : {}),
  });
}
