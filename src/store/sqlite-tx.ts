// One attempt of an asynchronous SQLite transaction: reads from one snapshot (the store's
// revision at the first read), writes buffered until the commit verifies the read set.
import type { AsyncStoreTx } from './async-store';
import { checkKey, checkPrefix } from './keys';
import type { Json, StoreEntry } from './store';
import { TxConflict, TxWrites } from './tx-buffer';

/** What a transaction reads through: the store's file, outside any SQLite transaction. */
export interface SqliteReader {
  currentRevision(): number;
  rowOf(key: string): { value: string; mod_revision: number; deleted: number } | undefined;
  highestUnder(prefix: string): number;
  listLive<T>(prefix: string): StoreEntry<T>[];
  ensureOpen(): void;
}

export class SqliteTx implements AsyncStoreTx {
  readonly writes = new TxWrites();
  /** Why this attempt must run again, once a read found a change after its snapshot. */
  doomed: string | undefined;
  private snapshot: number | undefined;
  private readonly keys = new Set<string>();
  private readonly prefixes = new Set<string>();

  constructor(private readonly reader: SqliteReader) {}

  async get<T = Json>(key: string): Promise<StoreEntry<T> | undefined> {
    checkKey(key);
    const own = this.writes.own<T>(key);
    if (own !== undefined) return own ?? undefined;
    const snapshot = this.begin();
    const row = this.reader.rowOf(key);
    this.keys.add(key);
    if (row && row.mod_revision > snapshot) this.conflict(`store key ${JSON.stringify(key)}`);
    if (!row || row.deleted) return undefined;
    return { key, value: JSON.parse(row.value) as T, revision: row.mod_revision };
  }

  async list<T = Json>(prefix: string): Promise<StoreEntry<T>[]> {
    checkPrefix(prefix);
    const snapshot = this.begin();
    this.prefixes.add(prefix);
    if (this.reader.highestUnder(prefix) > snapshot) {
      this.conflict(`store prefix ${JSON.stringify(prefix)}`);
    }
    return this.writes.merge(prefix, this.reader.listLive<T>(prefix));
  }

  put(key: string, value: Json): void {
    this.writes.put(key, value);
  }

  delete(key: string): void {
    this.writes.delete(key);
  }

  /** Inside the commit's SQLite transaction: nothing read has changed since the snapshot. */
  verify(): void {
    if (this.snapshot === undefined) return;
    for (const key of this.keys) {
      if ((this.reader.rowOf(key)?.mod_revision ?? 0) > this.snapshot) {
        throw new TxConflict(`store key ${JSON.stringify(key)} changed meanwhile`);
      }
    }
    for (const prefix of this.prefixes) {
      if (this.reader.highestUnder(prefix) > this.snapshot) {
        throw new TxConflict(
          `a key under store prefix ${JSON.stringify(prefix)} changed meanwhile`,
        );
      }
    }
  }

  private begin(): number {
    this.reader.ensureOpen();
    this.snapshot ??= this.reader.currentRevision();
    return this.snapshot;
  }

  private conflict(what: string): never {
    this.doomed = `${what} changed meanwhile`;
    throw new TxConflict(this.doomed);
  }
}
