// The `store` setting: which backend holds cluster state. SQLite (the default) is one
// file in stateDir; etcd is shared by every node of a cluster.
//   "store": { "backend": "sqlite" }
//   "store": { "backend": "etcd", "etcd": { "endpoints": [...], "prefix": "...", "tls": {...} } }
import { StoreError } from './errors';
import { checkEtcdConfig, type EtcdStoreConfig } from './etcd/config';

export type StoreConfig = { backend: 'sqlite' } | { backend: 'etcd'; etcd: EtcdStoreConfig };

export function checkStoreConfig(value: unknown, at = 'store'): StoreConfig {
  if (value === undefined) return { backend: 'sqlite' };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new StoreError(`${at} must be an object`);
  }
  const { backend, ...rest } = value as Record<string, unknown>;
  if (backend === undefined || backend === 'sqlite') {
    const extra = Object.keys(rest)[0];
    if (extra) throw new StoreError(`${at}.${extra} is not a setting of the sqlite backend`);
    return { backend: 'sqlite' };
  }
  if (backend !== 'etcd') {
    throw new StoreError(
      `${at}.backend must be "sqlite" or "etcd", not ${JSON.stringify(backend)}`,
    );
  }
  const extra = Object.keys(rest).find((k) => k !== 'etcd');
  if (extra) throw new StoreError(`${at}.${extra} is not a setting`);
  return { backend: 'etcd', etcd: checkEtcdConfig(rest.etcd, `${at}.etcd`) };
}
