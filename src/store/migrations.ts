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
];

export const SCHEMA_VERSION = MIGRATIONS.length;
