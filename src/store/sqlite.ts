// The embedded store: one SQLite file (WAL, synchronous=FULL) behind the Store port.
// Opening never writes to a file it does not recognise: foreign, corrupt or newer-schema
// databases are refused before any pragma or migration touches them.
import Database from 'better-sqlite3';
import { closeSync, fsyncSync, linkSync, openSync, rmSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import type { Logger } from 'pino';
import { StoreError } from './errors';
import { checkKey, checkPrefix, encodeValue } from './keys';
import { openStoreDatabase } from './sqlite-file';
import type { Json, Store, StoreEntry, StoreTx, WatchEvent } from './store';

export { STORE_FILE } from './state-files';

export interface SqliteStoreOptions {
  logger?: Logger;
  /** Open for reading only (offline inspection): no migration, no writes. */
  readonly?: boolean;
}

export interface SqliteStore extends Store {
  readonly path: string;
  /** Write a consistent copy of the whole store to `dest` (0600); `dest` must not exist. */
  backup(dest: string): void;
}

interface Row {
  key: string;
  value: string;
  revision: number;
}

interface Watcher {
  prefix: string;
  fn: (event: WatchEvent) => void;
}

export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  const db = openStoreDatabase(path, options);
  return new SqliteKvStore(db, path, options.logger);
}

/** GLOB pattern matching keys that start with `prefix` (its wildcards escaped). */
function prefixPattern(prefix: string): string {
  return prefix.replace(/[*?[]/g, (c) => `[${c}]`) + '*';
}

class SqliteKvStore implements SqliteStore {
  private readonly watchers = new Set<Watcher>();
  /** Events of the open transaction, delivered only once it commits. */
  private pending: WatchEvent[] = [];
  /** Committed events not yet handed to every watcher. */
  private readonly committed: WatchEvent[] = [];
  private delivering = false;
  private depth = 0;
  private txRevision: number | undefined;
  private readonly stmt;
  private readonly runInTx: (fn: (tx: StoreTx) => unknown) => unknown;

  constructor(
    private readonly db: Database.Database,
    readonly path: string,
    private readonly log: Logger | undefined,
  ) {
    this.stmt = {
      get: db.prepare<[string], Row>(
        'SELECT key, value, revision FROM kv WHERE key = ? AND deleted = 0',
      ),
      /** The revision of a key, live or deleted. */
      revision: db.prepare<[string], { revision: number; deleted: number }>(
        'SELECT revision, deleted FROM kv WHERE key = ?',
      ),
      upsert: db.prepare<[string, string, number, number]>(
        'INSERT INTO kv (key, value, revision, mod_revision) VALUES (?, ?, ?, ?) ' +
          'ON CONFLICT (key) DO UPDATE SET value = excluded.value, revision = excluded.revision, ' +
          'mod_revision = excluded.mod_revision, deleted = 0, lease = 0',
      ),
      delete: db.prepare<[number, string]>(
        "UPDATE kv SET value = 'null', deleted = 1, revision = revision + 1, mod_revision = ?, " +
          'lease = 0 WHERE key = ?',
      ),
      storeRevision: db.prepare<[], { revision: number }>(
        'SELECT revision FROM store_revision WHERE id = 1',
      ),
      setStoreRevision: db.prepare<[number]>('UPDATE store_revision SET revision = ? WHERE id = 1'),
      list: db.prepare<[string], Row>(
        'SELECT key, value, revision FROM kv WHERE key GLOB ? AND deleted = 0 ORDER BY key',
      ),
    };
    const tx = db.transaction((fn: (tx: StoreTx) => unknown) => {
      const result = fn(this);
      if (result instanceof Promise || (result as { then?: unknown } | null)?.then) {
        throw new StoreError('a store transaction must be synchronous (it returned a promise)');
      }
      return result;
    });
    this.runInTx = (fn) => tx.immediate(fn);
  }

  get<T = Json>(key: string): StoreEntry<T> | undefined {
    const row = this.stmt.get.get(checkKey(key));
    return row && toEntry<T>(row);
  }

  list<T = Json>(prefix: string): StoreEntry<T>[] {
    return this.stmt.list.all(prefixPattern(checkPrefix(prefix))).map((r) => toEntry<T>(r));
  }

  put(key: string, value: Json): number {
    return this.atomically(() => this.write(checkKey(key), value));
  }

  delete(key: string): boolean {
    checkKey(key);
    return this.atomically(() => {
      const row = this.stmt.get.get(key);
      if (!row) return false;
      this.stmt.delete.run(this.stampRevision(), key);
      if (this.watchers.size > 0) {
        this.pending.push({ type: 'delete', key, revision: row.revision + 1 });
      }
      return true;
    });
  }

  compareAndSet(key: string, expectedRevision: number, value: Json): boolean {
    checkKey(key);
    if (!Number.isSafeInteger(expectedRevision) || expectedRevision < 0) {
      throw new StoreError('expected revision must be a non-negative integer');
    }
    return this.atomically(() => {
      const current = this.stmt.revision.get(key);
      const live = current && current.deleted === 0 ? current.revision : 0;
      if (live !== expectedRevision) return false;
      this.write(key, value);
      return true;
    });
  }

  transaction<R>(fn: (tx: StoreTx) => R): R {
    if (!this.db.open) throw new StoreError(`store ${this.path} is closed`);
    const mark = this.pending.length;
    this.depth++;
    let result: R;
    try {
      result = this.runInTx(fn) as R;
    } catch (err) {
      this.pending.length = mark;
      throw readonlyError(err, this.path);
    } finally {
      this.depth--;
      if (this.depth === 0) this.txRevision = undefined;
    }
    if (this.depth === 0) this.deliver();
    return result;
  }

  watch(prefix: string, fn: (event: WatchEvent) => void): () => void {
    const watcher = { prefix: checkPrefix(prefix), fn };
    this.watchers.add(watcher);
    return () => {
      this.watchers.delete(watcher);
    };
  }

  backup(dest: string): void {
    if (this.depth > 0) throw new StoreError('cannot back up the store inside a transaction');
    const tmp = join(dirname(dest), `.${basename(dest)}.${process.pid}.tmp`);
    rmSync(tmp, { force: true });
    try {
      closeSync(openSync(tmp, 'wx', 0o600));
      this.db.prepare('VACUUM INTO ?').run(tmp);
      const fd = openSync(tmp, 'r+');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      // link, not rename: an existing backup is never overwritten.
      linkNoReplace(tmp, dest);
      fsyncDir(dirname(dest));
    } catch (err) {
      throw new StoreError(`cannot back up store to ${dest}: ${(err as Error).message}`);
    } finally {
      rmSync(tmp, { force: true });
    }
    this.log?.info({ dest }, 'store backed up');
  }

  close(): void {
    if (!this.db.open) return;
    this.watchers.clear();
    this.db.close();
  }

  /** One operation: its own transaction, or a plain step of the enclosing one. */
  private atomically<R>(fn: () => R): R {
    return this.depth > 0 ? fn() : this.transaction(fn);
  }

  private write(key: string, value: Json): number {
    const encoded = encodeValue(key, value);
    const revision = (this.stmt.revision.get(key)?.revision ?? 0) + 1;
    this.stmt.upsert.run(key, encoded, revision, this.stampRevision());
    if (this.watchers.size > 0) {
      this.pending.push({ type: 'put', key, value: JSON.parse(encoded) as Json, revision });
    }
    return revision;
  }

  /**
   * The global revision this transaction's writes carry (the asynchronous store's
   * mod_revision): one past the committed counter, which cannot move while this
   * connection holds the write lock. Setting the counter again on every write keeps it
   * right when a nested transaction's savepoint rolled back an earlier setting.
   */
  private stampRevision(): number {
    this.txRevision ??= this.stmt.storeRevision.get()!.revision + 1;
    this.stmt.setStoreRevision.run(this.txRevision);
    return this.txRevision;
  }

  private deliver(): void {
    this.committed.push(...this.pending);
    this.pending = [];
    // A watcher that writes commits again from inside this loop: its events queue behind
    // the ones being delivered, so every watcher sees changes in commit order.
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let event = this.committed.shift(); event; event = this.committed.shift()) {
        for (const w of [...this.watchers]) {
          if (!event.key.startsWith(w.prefix)) continue;
          try {
            w.fn(event);
          } catch (err) {
            // A failing watcher must not undo a committed change or starve the others.
            this.log?.error({ err, storeKey: event.key }, 'store watcher threw');
          }
        }
      }
    } finally {
      this.delivering = false;
    }
  }
}

function toEntry<T>(row: Row): StoreEntry<T> {
  return { key: row.key, value: JSON.parse(row.value) as T, revision: row.revision };
}

function readonlyError(err: unknown, path: string): unknown {
  if ((err as { code?: string }).code === 'SQLITE_READONLY') {
    return new StoreError(`store ${path} is open read-only`);
  }
  return err;
}

function linkNoReplace(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`${to} already exists`);
    throw err;
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
