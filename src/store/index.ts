export type { Json, Store, StoreEntry, StoreTx, WatchEvent } from './store';
export { StoreError } from './errors';
export { openSqliteStore, type SqliteStore, type SqliteStoreOptions } from './sqlite';
