// One attempt of a transaction on etcd, after the Go client's concurrency.NewSTM
// (serializable snapshot): the first read fixes a revision and every later read is made
// at it, so the attempt sees one consistent state; writes are buffered. The commit is one
// etcd Txn whose compares say "nothing read changed since that revision":
//   - a key read, present or absent, and each listed prefix: MOD < revision + 1 over the
//     key or the prefix's range. Deletes are tombstones (puts), so a delete moves MOD too;
//     a missing key compares as MOD 0 (etcd 3.4), and an empty range passes.
//   - a key read that carries a lease: MOD == its revision, because etcd removes it for
//     real when the lease ends, and a vanished key would pass the range compare.
// etcd allows 128 compares per Txn: past that, neighbouring ranges are merged, which can
// only add conflicts, never miss one.
import type { ICompare, IKeyValue, IRangeRequest, IRangeResponse, IRequestOp } from 'etcd3';
import type { AsyncStoreTx } from '../async-store';
import { StoreError } from '../errors';
import { checkKey, checkPrefix } from '../keys';
import type { Json, StoreEntry } from '../store';
import { TxConflict, TxWrites } from '../tx-buffer';
import { isTombstone, type EtcdIo } from './client';

/** etcd's default --max-txn-ops, which also bounds the compares of one Txn. */
export const MAX_COMPARES = 128;

interface KeyRead {
  /** MOD of what was read: the key's last change, its tombstone, or 0 when missing. */
  mod: number;
  leased: boolean;
}

export class EtcdTx implements AsyncStoreTx {
  readonly writes = new TxWrites();
  private first: Promise<number> | undefined;
  private readonly keys = new Map<string, KeyRead>();
  private readonly prefixes = new Set<string>();

  constructor(private readonly io: EtcdIo) {}

  async get<T = Json>(key: string): Promise<StoreEntry<T> | undefined> {
    checkKey(key);
    const own = this.writes.own<T>(key);
    if (own !== undefined) return own ?? undefined;
    const res = await this.io.call(`read of store key ${JSON.stringify(key)}`, false, (o) =>
      this.rangeAt({ key: this.io.dataKey(key) }, o),
    );
    const kv = res.kvs[0];
    this.keys.set(key, { mod: kv ? Number(kv.mod_revision) : 0, leased: isLeased(kv) });
    return kv && this.io.toEntry<T>(kv);
  }

  async list<T = Json>(prefix: string): Promise<StoreEntry<T>[]> {
    checkPrefix(prefix);
    const { kvs } = await this.io.call(
      `list of store prefix ${JSON.stringify(prefix)}`,
      false,
      (o) => this.io.rangeAll(this.io.dataRange(prefix), (req) => this.rangeAt(req, o)),
    );
    this.prefixes.add(prefix);
    const entries: StoreEntry<T>[] = [];
    for (const kv of kvs) {
      if (isLeased(kv))
        this.keys.set(this.io.userKey(kv.key), { mod: Number(kv.mod_revision), leased: true });
      const entry = this.io.toEntry<T>(kv);
      if (entry) entries.push(entry);
    }
    return this.writes.merge(prefix, entries);
  }

  put(key: string, value: Json): void {
    this.writes.put(key, value);
  }

  delete(key: string): void {
    this.writes.delete(key);
  }

  /** Commit the writes iff nothing read changed; resolves to the commit's revision. */
  async commit(): Promise<number | undefined> {
    if (this.writes.size === 0) return undefined; // read-only: its snapshot was consistent
    const compare = this.first ? this.compares(await this.snapshot()) : [];
    const success: IRequestOp[] = [];
    for (const [key, encoded] of this.writes.entries()) {
      const etcdKey = this.io.dataKey(key);
      success.push(
        encoded === undefined
          ? deleteIfLive(etcdKey, this.io.tombstone())
          : { request_put: { key: etcdKey, value: Buffer.from(encoded) } },
      );
    }
    const keys = [...this.writes.entries()].map(([k]) => JSON.stringify(k));
    const shown = keys.length > 5 ? [...keys.slice(0, 5), '...'] : keys;
    const what = `transaction writing store key${keys.length > 1 ? 's' : ''} ${shown.join(', ')}`;
    const res = await this.io.call(what, true, (o) =>
      this.io.client.kv.txn({ compare, success, failure: [] }, o),
    );
    if (!res.succeeded) throw new TxConflict('something it read changed meanwhile');
    return Number(res.header.revision);
  }

  /** The revision of the first read; a failed one fails the commit (fn may have caught it). */
  private async snapshot(): Promise<number> {
    try {
      return await this.first!;
    } catch {
      throw new StoreError(
        `${this.io.where}: a read of this transaction failed; nothing was committed`,
      );
    }
  }

  /** Reads after the first are made at the first one's revision. */
  private async rangeAt(req: IRangeRequest, options: object): Promise<IRangeResponse> {
    if (!this.first) {
      const res = this.io.client.kv.range(req, options);
      this.first = res.then((r) => Number(r.header.revision));
      // Its failure reaches the caller through `res`; later reads see it through `first`.
      this.first.catch(() => undefined);
      return res;
    }
    const revision = await this.first;
    // A past revision is the same on every member that has applied it: the member may
    // answer from its own copy, unless it is behind (then through the leader).
    try {
      return await this.io.client.kv.range({ ...req, revision, serializable: true }, options);
    } catch (err) {
      if (!/future revision/.test((err as Error)?.message ?? '')) throw err;
      return this.io.client.kv.range({ ...req, revision }, options);
    }
  }

  private compares(revision: number): ICompare[] {
    const exact: ICompare[] = [];
    const ranges: { key: Buffer; end: Buffer }[] = [];
    for (const prefix of this.prefixes) {
      const { key, range_end } = this.io.dataRange(prefix);
      ranges.push({ key, end: range_end });
    }
    for (const [key, read] of this.keys) {
      const etcdKey = this.io.dataKey(key);
      if (read.leased) {
        exact.push({ key: etcdKey, target: 'Mod', result: 'Equal', mod_revision: read.mod });
      } else if (![...this.prefixes].some((p) => key.startsWith(p))) {
        ranges.push({ key: etcdKey, end: Buffer.concat([etcdKey, Buffer.from([0])]) });
      }
    }
    const budget = MAX_COMPARES - exact.length;
    if (budget < 1 && ranges.length > 0) {
      throw new StoreError(`a store transaction may read at most ${MAX_COMPARES - 1} leased keys`);
    }
    const less = mergeRanges(ranges, budget).map((r): ICompare => ({
      key: r.key,
      range_end: r.end,
      target: 'Mod',
      result: 'Less',
      mod_revision: revision + 1,
    }));
    return [...less, ...exact];
  }
}

function isLeased(kv: IKeyValue | undefined): boolean {
  return !!kv && !isTombstone(kv) && kv.lease !== '0' && kv.lease !== '';
}

/** A delete is a tombstone put, made only when the key is live (a nested Txn). */
function deleteIfLive(key: Buffer, tombstone: Buffer): IRequestOp {
  return {
    request_txn: {
      compare: [{ key, target: 'Value', result: 'NotEqual', value: tombstone }],
      success: [{ request_put: { key, value: tombstone } }],
      failure: [],
    },
  };
}

/** At most `budget` ranges covering every given one: sorted, neighbours joined. */
export function mergeRanges(
  ranges: { key: Buffer; end: Buffer }[],
  budget: number,
): { key: Buffer; end: Buffer }[] {
  if (ranges.length <= budget) return ranges;
  const sorted = [...ranges].sort((a, b) => Buffer.compare(a.key, b.key));
  const size = Math.ceil(sorted.length / budget);
  const merged: { key: Buffer; end: Buffer }[] = [];
  for (let i = 0; i < sorted.length; i += size) {
    const group = sorted.slice(i, i + size);
    const end = group.reduce((m, r) => (Buffer.compare(r.end, m) > 0 ? r.end : m), group[0].end);
    merged.push({ key: group[0].key, end });
  }
  return merged;
}
