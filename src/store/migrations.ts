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
  // The asynchronous port's revisions are global, as etcd's: one counter, taken by every
  // commit that changes something, stamped on the rows it wrote (mod_revision). It starts
  // at the highest per-key revision, so a key's mod_revision only grows across the
  // upgrade. The per-key `revision` stays as the synchronous port defines it. `lease`
  // marks keys written under a lease (0: none).
  (db) => {
    db.exec(`
      ALTER TABLE kv ADD COLUMN mod_revision INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE kv ADD COLUMN lease INTEGER NOT NULL DEFAULT 0;
      UPDATE kv SET mod_revision = revision;
      CREATE TABLE store_revision (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        revision INTEGER NOT NULL
      );
      INSERT INTO store_revision (id, revision) SELECT 1, coalesce(max(revision), 0) FROM kv;
    `);
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;
