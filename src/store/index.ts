export type {
  Json,
  MaintenanceOptions,
  MaintenanceReport,
  Store,
  StoreChange,
  StoreEntry,
  StoreLease,
  StoreReader,
  StoreTx,
} from './store';
export { MAX_TX_BYTES, MAX_TX_WRITES, MAX_VALUE_BYTES } from './store';
export { StoreAccessError, StoreConflictError, StoreError, StoreUnavailableError } from './errors';
export { openSqliteStore, STORE_FILE, type SqliteStore, type SqliteStoreOptions } from './sqlite';
export { checkStoreConfig, type StoreConfig } from './store-config';
export { openSealer, SealError, SEAL_KEY_FILE, type Sealer, type SealerOptions } from './seal';
