// The embedded store: one SQLite file (WAL, synchronous=FULL) behind the store port, for a
// single node. The view is the file itself, so reads are plain queries; a transaction's
// function runs inside one IMMEDIATE SQLite transaction, where nothing else can write, so
// it never conflicts and runs once. Every commit that changes something takes the next
// global revision and stamps it on the rows it writes (tombstones keep deletes in it).
// Opening never writes to a file it does not recognise (sqlite-file.ts).
//
// Leases live while this store is open: the process holding them is alive by definition;
// leased keys are deleted when the lease is revoked, the store closes, or at the next open
// after a crash.
import type Database from 'better-sqlite3';
import { closeSync, fsyncSync, linkSync, openSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { fsyncDir } from '../util/atomic-file';
import { ChangeFanout } from './change-fanout';
import { StoreError, StoreUnavailableError } from './errors';
import { checkKey, checkLeaseTtl, checkPrefix, checkRevision, encodeBoundedValue } from './keys';
import { SqliteLease } from './sqlite-lease';
import { openStoreDatabase } from './sqlite-file';
import {
  MAX_VALUE_BYTES,
  type Json,
  type MaintenanceReport,
  type Store,
  type StoreChange,
  type StoreEntry,
  type EnsembleMember,
  type StoreLease,
  type StoreTx,
} from './store';
import { NESTED_WRITE, refuseAsync, TxWrites } from './tx-buffer';

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
  mod_revision: number;
  deleted: number;
}

/** Writes inside one commit; every one carries the commit's revision. */
interface Writer {
  put(key: string, encoded: string, lease?: number): void;
  /** Tombstones a live key; false (and no change) when it is absent. */
  delete(key: string): boolean;
}

export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): SqliteStore {
  return new SqliteFileStore(openStoreDatabase(path, options), path, options);
}

class SqliteFileStore implements SqliteStore {
  /** One node's file: no other node reads it. */
  readonly shared = false;
  private readonly stmt;
  private readonly fanout: ChangeFanout;
  private readonly leases = new Map<number, SqliteLease>();
  private nextLease = 1;
  private closed = false;
  /** A commit is open: a nested write would run inside it, which the port does not allow. */
  private committing = false;

  constructor(
    private readonly db: Database.Database,
    readonly path: string,
    private readonly options: SqliteStoreOptions,
  ) {
    this.fanout = new ChangeFanout(options.logger);
    this.stmt = {
      row: db.prepare<[string], Row>(
        'SELECT key, value, revision, mod_revision, deleted FROM kv WHERE key = ?',
      ),
      list: db.prepare<[string], Row>(
        'SELECT key, value, revision, mod_revision, deleted FROM kv ' +
          'WHERE key GLOB ? AND deleted = 0 ORDER BY key',
      ),
      upsert: db.prepare<[string, string, number, number, number]>(
        'INSERT INTO kv (key, value, revision, mod_revision, lease) VALUES (?, ?, ?, ?, ?) ' +
          'ON CONFLICT (key) DO UPDATE SET value = excluded.value, revision = excluded.revision, ' +
          'mod_revision = excluded.mod_revision, deleted = 0, lease = excluded.lease',
      ),
      tombstone: db.prepare<[number, string]>(
        "UPDATE kv SET value = 'null', deleted = 1, revision = revision + 1, mod_revision = ?, " +
          'lease = 0 WHERE key = ?',
      ),
      leased: db.prepare<[number], { key: string }>(
        'SELECT key FROM kv WHERE lease = ? AND deleted = 0',
      ),
      anyLeased: db.prepare<[], { key: string }>(
        'SELECT key FROM kv WHERE lease != 0 AND deleted = 0',
      ),
      revision: db.prepare<[], { revision: number }>(
        'SELECT revision FROM store_revision WHERE id = 1',
      ),
      setRevision: db.prepare<[number]>('UPDATE store_revision SET revision = ? WHERE id = 1'),
    };
    // Keys of leases held by a process that is gone (this store was not closed).
    if (!options.readonly && this.stmt.anyLeased.get()) {
      this.commit((w) => {
        for (const { key } of this.stmt.anyLeased.all()) w.delete(key);
      });
    }
  }

  get<T = Json>(key: string): StoreEntry<T> | undefined {
    this.ensureOpen();
    const row = this.stmt.row.get(checkKey(key));
    return row && !row.deleted ? toEntry<T>(row) : undefined;
  }

  list<T = Json>(prefix: string): StoreEntry<T>[] {
    this.ensureOpen();
    return this.stmt.list.all(prefixPattern(checkPrefix(prefix))).map((r) => toEntry<T>(r));
  }

  async put(key: string, value: Json): Promise<number> {
    return this.putWithLease(key, value, 0);
  }

  async delete(key: string): Promise<boolean> {
    checkKey(key);
    return this.commit((w) => w.delete(key));
  }

  async compareAndSet(key: string, expectedRevision: number, value: Json): Promise<boolean> {
    return this.compareAndSetWithLease(key, expectedRevision, value, 0);
  }

  private compareAndSetWithLease(
    key: string,
    expectedRevision: number,
    value: Json,
    lease: number,
  ): boolean {
    checkKey(key);
    checkRevision(expectedRevision, 'expected revision');
    const encoded = encodeBoundedValue(key, value, MAX_VALUE_BYTES);
    return this.commit((w) => {
      const row = this.stmt.row.get(key);
      const live = row && !row.deleted ? row.mod_revision : 0;
      if (live !== expectedRevision) return false;
      w.put(key, encoded, lease);
      return true;
    });
  }

  async transaction<R>(fn: (tx: StoreTx) => R): Promise<R> {
    this.ensureOpen();
    return this.commit((w) => {
      const tx = new FileTx(this);
      const result = fn(tx);
      refuseAsync(result);
      for (const [key, encoded] of tx.writes.entries()) {
        if (encoded === undefined) w.delete(key);
        else w.put(key, encoded);
      }
      return result;
    });
  }

  watch(prefix: string, fn: (change: StoreChange) => void): () => void {
    checkPrefix(prefix);
    this.ensureOpen();
    return this.fanout.watch(prefix, fn);
  }

  revision(): number {
    this.ensureOpen();
    return this.stmt.revision.get()!.revision;
  }

  async grantLease(ttlSeconds: number): Promise<StoreLease> {
    checkLeaseTtl(ttlSeconds);
    this.ensureOpen();
    const id = this.nextLease++;
    const lease = new SqliteLease(id, ttlSeconds, {
      put: (key, value) => this.putWithLease(key, value, id),
      create: async (key, value) => this.compareAndSetWithLease(key, 0, value, id),
      revoke: async () => this.revokeLease(id),
      check: () => this.ensureOpen(),
    });
    this.leases.set(id, lease);
    return lease;
  }

  /** An embedded store: no ensemble. */
  async ensemble(): Promise<EnsembleMember[]> {
    this.ensureOpen();
    return [];
  }

  /** SQLite keeps no history beyond the rows: nothing to compact, tombstones kept. */
  async maintain(): Promise<MaintenanceReport> {
    this.ensureOpen();
    return { compactedRevision: 0, tombstonesRemoved: 0 };
  }

  backup(dest: string): void {
    this.ensureOpen();
    if (this.committing) throw new StoreError('cannot back up the store inside a transaction');
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
    this.options.logger?.info({ dest }, 'store backed up');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      for (const lease of [...this.leases.values()]) await lease.revoke();
    } finally {
      this.closed = true;
      this.fanout.close();
      this.db.close();
    }
  }

  // Reads of FileTx, inside the commit's SQLite transaction.

  rowOf(key: string): Row | undefined {
    return this.stmt.row.get(key);
  }

  listLive<T>(prefix: string): StoreEntry<T>[] {
    return this.stmt.list.all(prefixPattern(prefix)).map((r) => toEntry<T>(r));
  }

  ensureOpen(): void {
    if (this.closed) throw new StoreError(`store ${this.path} is closed`);
  }

  private async putWithLease(key: string, value: Json, lease: number): Promise<number> {
    checkKey(key);
    const encoded = encodeBoundedValue(key, value, MAX_VALUE_BYTES);
    return this.commit((w, revision) => {
      w.put(key, encoded, lease);
      return revision;
    });
  }

  private revokeLease(id: number): void {
    if (!this.leases.delete(id) || this.closed) return;
    this.commit((w) => {
      for (const { key } of this.stmt.leased.all(id)) w.delete(key);
    });
  }

  /**
   * One IMMEDIATE transaction: `body` reads and writes; its changes take the next revision
   * and reach watchers once it has committed, before the caller's promise resolves.
   */
  private commit<R>(body: (w: Writer, revision: number) => R): R {
    this.ensureOpen();
    if (this.committing) {
      throw new StoreError(NESTED_WRITE);
    }
    let revision = 0;
    let changes: StoreChange[] = [];
    const run = this.db.transaction(() => {
      revision = this.stmt.revision.get()!.revision + 1;
      changes = [];
      const writer: Writer = {
        put: (key, encoded, lease = 0) => {
          const before = this.stmt.row.get(key)?.revision ?? 0;
          this.stmt.upsert.run(key, encoded, before + 1, revision, lease);
          changes.push({ type: 'put', key, value: JSON.parse(encoded) as Json, revision });
        },
        delete: (key) => {
          const row = this.stmt.row.get(key);
          if (!row || row.deleted) return false;
          this.stmt.tombstone.run(revision, key);
          changes.push({ type: 'delete', key, revision });
          return true;
        },
      };
      const result = body(writer, revision);
      if (changes.length > 0) this.stmt.setRevision.run(revision);
      return result;
    });
    this.committing = true;
    let result: R;
    try {
      result = run.immediate();
    } catch (err) {
      throw sqliteError(err, this.path);
    } finally {
      this.committing = false;
    }
    this.fanout.offer(changes);
    this.fanout.deliver();
    return result;
  }
}

/** A transaction's reads, inside the commit: the file as it is, with its own writes applied. */
class FileTx implements StoreTx {
  readonly inTransaction = true as const;
  readonly writes = new TxWrites();

  constructor(private readonly store: SqliteFileStore) {}

  get<T = Json>(key: string): StoreEntry<T> | undefined {
    checkKey(key);
    const own = this.writes.own<T>(key);
    if (own !== undefined) return own ?? undefined;
    const row = this.store.rowOf(key);
    return row && !row.deleted ? toEntry<T>(row) : undefined;
  }

  list<T = Json>(prefix: string): StoreEntry<T>[] {
    checkPrefix(prefix);
    return this.writes.merge(prefix, this.store.listLive<T>(prefix));
  }

  put(key: string, value: Json): void {
    this.writes.put(key, value);
  }

  delete(key: string): void {
    this.writes.delete(key);
  }
}

function toEntry<T>(row: Row): StoreEntry<T> {
  return { key: row.key, value: JSON.parse(row.value) as T, revision: row.mod_revision };
}

/** GLOB pattern matching keys that start with `prefix` (its wildcards escaped). */
function prefixPattern(prefix: string): string {
  return prefix.replace(/[*?[]/g, (c) => `[${c}]`) + '*';
}

function sqliteError(err: unknown, path: string): unknown {
  const code = (err as { code?: string }).code;
  if (code === 'SQLITE_READONLY') return new StoreError(`store ${path} is open read-only`);
  if (code === 'SQLITE_BUSY') {
    return new StoreUnavailableError(`store ${path} is locked by another writer; nothing written`);
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
