export type { Json, Store, StoreEntry, StoreTx, WatchEvent } from './store';
export { StoreError } from './errors';
export { openSqliteStore, STORE_FILE, type SqliteStore, type SqliteStoreOptions } from './sqlite';
export { openSealer, SealError, SEAL_KEY_FILE, type Sealer, type SealerOptions } from './seal';
