// The etcd backend, kept out of src/store/index.ts: etcd3 and gRPC load only when a
// cluster's store is on etcd, never in a single node's boot.
export { checkEtcdConfig, isLoopback, type EtcdStoreConfig, type EtcdTlsFiles } from './config';
export type { ViewHealth } from './health';
export { openEtcdStore, type EtcdOpenOptions, type EtcdStore } from './store';
export { DEFAULT_RETAIN_MS } from './tombstones';
