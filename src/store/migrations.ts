// Schema migrations: entry i takes the database from schema version i to i + 1. Never
// edit a released entry; append a new one. PRAGMA user_version holds the version.
import type { Database } from 'better-sqlite3';

// A rowid table, not WITHOUT ROWID: values (certificates, sealed keys) run to kilobytes,
// which WITHOUT ROWID tables store poorly.
export const MIGRATIONS: ReadonlyArray<(db: Database) => void> = [
  (db) => {
    db.exec(`
      CREATE TABLE kv (
        key      TEXT PRIMARY KEY NOT NULL,
        value    TEXT NOT NULL,
        revision INTEGER NOT NULL
      );
    `);
  },
  // A deleted key keeps a tombstone row so its revision never goes backwards: a
  // compare-and-set holding a revision from before a delete and re-create must fail.
  (db) => {
    db.exec('ALTER TABLE kv ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0');
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;
