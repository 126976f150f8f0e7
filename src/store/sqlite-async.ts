// The asynchronous port on the embedded SQLite file (WAL, synchronous=FULL; the same file
// checks and migrations as the synchronous store, which may use the same file). Entries
// carry the global mod_revision. A transaction's reads all come from one snapshot: the
// first read fixes a revision, and a later read that finds something changed after it
// ends the attempt at once (it would run again anyway). The commit is one IMMEDIATE SQLite
// transaction that first re-checks everything read — each key's and each listed prefix's
// highest mod_revision, tombstones included, must not be above that revision — then writes.
//
// Leases live while this store is open: TTLs are not enforced (the process holding them is
// alive by definition), keep-alives only check the lease is held, and leased keys are
// deleted when the lease is revoked, the store closes, or at the next open after a crash.
// Tombstones are never removed: the synchronous port's per-key revisions rely on them.
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import type {
  AsyncStore,
  AsyncStoreTx,
  MaintenanceReport,
  StoreChange,
  StoreLease,
  Unwatch,
  WatchOptions,
} from './async-store';
import { MAX_VALUE_BYTES } from './async-store';
import { StoreError, StoreUnavailableError } from './errors';
import {
  checkFromRevision,
  checkKey,
  checkLeaseTtl,
  checkPrefix,
  checkRevision,
  encodeBoundedValue,
} from './keys';
import { SqliteLease } from './sqlite-lease';
import { openStoreDatabase } from './sqlite-file';
import { SqliteTx, type SqliteReader } from './sqlite-tx';
import { WatchHub } from './sqlite-watch';
import type { Json, StoreEntry } from './store';
import { DEFAULT_RETRY, retryConflicts, TxConflict, type RetryPolicy } from './tx-buffer';

export interface AsyncSqliteStoreOptions {
  logger?: Logger;
  retry?: RetryPolicy;
  /** Recent changes kept for watches that resume from a revision. */
  watchHistory?: number;
}

interface Row {
  key: string;
  value: string;
  revision: number;
  mod_revision: number;
  deleted: number;
}

type KeyChange = Exclude<StoreChange, { type: 'resync' }>;

/** Writes inside one commit; every one carries the commit's revision. */
interface Writer {
  put(key: string, encoded: string, lease?: number): void;
  /** Tombstones a live key; false (and no change) when it is absent. */
  delete(key: string): boolean;
}

export function openAsyncSqliteStore(
  path: string,
  options: AsyncSqliteStoreOptions = {},
): AsyncSqliteStore {
  return new AsyncSqliteStore(openStoreDatabase(path, options), path, options);
}

export class AsyncSqliteStore implements AsyncStore, SqliteReader {
  private readonly stmt;
  private readonly hub: WatchHub;
  private readonly retry: RetryPolicy;
  private readonly leases = new Map<number, SqliteLease>();
  private nextLease = 1;
  private closed = false;

  constructor(
    private readonly db: Database.Database,
    readonly path: string,
    options: AsyncSqliteStoreOptions,
  ) {
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.stmt = {
      row: db.prepare<[string], Row>(
        'SELECT key, value, revision, mod_revision, deleted FROM kv WHERE key = ?',
      ),
      list: db.prepare<[string], Row>(
        'SELECT key, value, revision, mod_revision, deleted FROM kv ' +
          'WHERE key GLOB ? AND deleted = 0 ORDER BY key',
      ),
      maxUnder: db.prepare<[string], { m: number | null }>(
        'SELECT max(mod_revision) AS m FROM kv WHERE key GLOB ?',
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
    this.hub = new WatchHub(
      this.currentRevision(),
      (prefix) => this.listLive(prefix),
      options.watchHistory ?? 10_000,
      options.logger,
    );
    // Keys of leases held by a process that is gone (this store was not closed).
    this.commit((w) => {
      for (const { key } of this.stmt.anyLeased.all()) w.delete(key);
    });
  }

  async get<T = Json>(key: string): Promise<StoreEntry<T> | undefined> {
    this.ensureOpen();
    const row = this.rowOf(checkKey(key));
    return row && !row.deleted ? toEntry<T>(row) : undefined;
  }

  async list<T = Json>(prefix: string): Promise<StoreEntry<T>[]> {
    this.ensureOpen();
    return this.listLive<T>(checkPrefix(prefix));
  }

  async put(key: string, value: Json): Promise<number> {
    return this.putWithLease(key, value, 0);
  }

  async delete(key: string): Promise<boolean> {
    checkKey(key);
    return this.commit((w) => w.delete(key));
  }

  async compareAndSet(key: string, expectedRevision: number, value: Json): Promise<boolean> {
    checkKey(key);
    checkRevision(expectedRevision, 'expected revision');
    const encoded = encodeBoundedValue(key, value, MAX_VALUE_BYTES);
    return this.commit((w) => {
      const row = this.rowOf(key);
      const live = row && !row.deleted ? row.mod_revision : 0;
      if (live !== expectedRevision) return false;
      w.put(key, encoded);
      return true;
    });
  }

  async transaction<R>(fn: (tx: AsyncStoreTx) => Promise<R> | R): Promise<R> {
    this.ensureOpen();
    return retryConflicts(this.retry, async () => {
      const tx = new SqliteTx(this);
      let result: R;
      try {
        result = await fn(tx);
      } catch (err) {
        // What it read was already stale: the failure may be an effect of that.
        if (tx.doomed) throw new TxConflict(tx.doomed);
        throw err;
      }
      if (tx.doomed) throw new TxConflict(tx.doomed);
      // Read-only: its reads were one snapshot already; nothing to commit.
      if (tx.writes.size === 0) return result;
      this.commit((w) => {
        tx.verify();
        for (const [key, encoded] of tx.writes.entries()) {
          if (encoded === undefined) w.delete(key);
          else w.put(key, encoded);
        }
      });
      return result;
    });
  }

  async watch(
    prefix: string,
    fn: (change: StoreChange) => void,
    options: WatchOptions = {},
  ): Promise<Unwatch> {
    checkPrefix(prefix);
    if (options.fromRevision !== undefined) checkFromRevision(options.fromRevision);
    this.ensureOpen();
    this.hub.noticeRevision(this.currentRevision());
    const stop = this.hub.watch(prefix, fn, options);
    this.hub.flush();
    return async () => stop();
  }

  async revision(): Promise<number> {
    this.ensureOpen();
    return this.currentRevision();
  }

  async grantLease(ttlSeconds: number): Promise<StoreLease> {
    checkLeaseTtl(ttlSeconds);
    this.ensureOpen();
    const id = this.nextLease++;
    const lease = new SqliteLease(id, ttlSeconds, {
      put: (key, value) => this.putWithLease(key, value, id),
      revoke: async () => this.revokeLease(id),
      check: () => this.ensureOpen(),
    });
    this.leases.set(id, lease);
    return lease;
  }

  async maintain(options: { retainMs?: number } = {}): Promise<MaintenanceReport> {
    this.ensureOpen();
    const compactedRevision = this.hub.compact(options.retainMs ?? 3_600_000);
    return { compactedRevision, tombstonesRemoved: 0 };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      for (const lease of [...this.leases.values()]) await lease.revoke();
    } finally {
      this.closed = true;
      this.hub.close();
      this.db.close();
    }
  }

  // SqliteReader, for the transactions' reads.

  currentRevision(): number {
    return this.stmt.revision.get()!.revision;
  }

  rowOf(key: string): Row | undefined {
    return this.stmt.row.get(key);
  }

  highestUnder(prefix: string): number {
    return this.stmt.maxUnder.get(prefixPattern(prefix))!.m ?? 0;
  }

  listLive<T = Json>(prefix: string): StoreEntry<T>[] {
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
    if (!this.leases.delete(id)) return;
    this.commit((w) => {
      for (const { key } of this.stmt.leased.all(id)) w.delete(key);
    });
  }

  /**
   * One IMMEDIATE transaction: `body` checks and writes; its changes take the next
   * revision and reach watchers once it has committed.
   */
  private commit<R>(body: (w: Writer, revision: number) => R): R {
    this.ensureOpen();
    let revision = 0;
    let changes: KeyChange[] = [];
    const run = this.db.transaction(() => {
      const current = this.currentRevision();
      this.hub.noticeRevision(current);
      revision = current + 1;
      changes = [];
      const writer: Writer = {
        put: (key, encoded, lease = 0) => {
          const before = this.rowOf(key)?.revision ?? 0;
          this.stmt.upsert.run(key, encoded, before + 1, revision, lease);
          changes.push({ type: 'put', key, value: JSON.parse(encoded) as Json, revision });
        },
        delete: (key) => {
          const row = this.rowOf(key);
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
    try {
      const result = run.immediate();
      if (changes.length > 0) this.hub.publish(revision, changes);
      return result;
    } catch (err) {
      throw sqliteError(err, this.path);
    } finally {
      this.hub.flush();
    }
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
