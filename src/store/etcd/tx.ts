// One run of a transaction on etcd: its function reads this node's view at one revision R
// (the reads are recorded) and buffers its writes; the commit is one etcd Txn whose
// compares say "nothing read changed since R":
//   - a key read, present or absent, and each listed prefix: MOD < R + 1 over the key or
//     the prefix's range. Deletes are tombstones (puts), so a delete moves MOD too; a
//     missing key compares as MOD 0 (etcd 3.4), and an empty range passes.
//   - a key read that carries a lease: MOD == its revision, because etcd removes it for
//     real when the lease ends, and a vanished key would pass the range compare.
// etcd allows 128 compares per Txn: past that, neighbouring ranges are merged, which can
// only add conflicts, never miss one. When the compares fail, the Txn's failure branch
// reads the newest revision in each compared range, so the run after it waits for the
// view to hold exactly what made it fail.
// A run whose function throws (a refusal) is checked the same way, with no writes: a
// refusal decided on a view that is behind etcd runs again once the view catches up.
import type { ICompare, IRequestOp, ITxnResponse } from 'etcd3';
import { StoreError } from '../errors';
import { checkKey, checkPrefix } from '../keys';
import type { Json, StoreEntry, StoreTx } from '../store';
import { TxWrites } from '../tx-buffer';
import type { EtcdIo } from './client';
import type { WriteGate } from './health';
import type { EtcdView } from './view';

/** etcd's default --max-txn-ops, which also bounds the compares of one Txn. */
export const MAX_COMPARES = 128;

interface KeyRead {
  /** The revision of what was read: the key's last change, or 0 when absent. */
  mod: number;
  leased: boolean;
}

/** Why a Txn's compares failed: what the view must hold before the next run. */
export interface Staleness {
  /** The newest change under what was read. */
  revision: number;
  /** Leased keys read that etcd no longer has (their lease ended). */
  vanished: string[];
}

export type TxOutcome =
  { committed: true; revision: number; wrote: boolean } | { committed: false; stale: Staleness };

/** What one run read, and the compares and failure reads that check it. */
export class ReadSet {
  readonly keys = new Map<string, KeyRead>();
  readonly prefixes = new Set<string>();

  compares(io: EtcdIo, revision: number): { compare: ICompare[]; failure: IRequestOp[] } {
    const exact: { key: Buffer; mod: number }[] = [];
    const ranges: { key: Buffer; end: Buffer }[] = [];
    for (const prefix of this.prefixes) {
      const { key, range_end } = io.dataRange(prefix);
      ranges.push({ key, end: range_end });
    }
    for (const [key, read] of this.keys) {
      const etcdKey = io.dataKey(key);
      if (read.leased) exact.push({ key: etcdKey, mod: read.mod });
      else if (![...this.prefixes].some((p) => key.startsWith(p))) {
        ranges.push({ key: etcdKey, end: Buffer.concat([etcdKey, Buffer.from([0])]) });
      }
    }
    const budget = MAX_COMPARES - exact.length;
    if (budget < 1 && ranges.length > 0) {
      throw new StoreError(`a store transaction may read at most ${MAX_COMPARES - 1} leased keys`);
    }
    const merged = mergeRanges(ranges, budget);
    const compare: ICompare[] = [
      ...merged.map((r): ICompare => ({
        key: r.key,
        range_end: r.end,
        target: 'Mod',
        result: 'Less',
        mod_revision: revision + 1,
      })),
      ...exact.map((e): ICompare => ({
        key: e.key,
        target: 'Mod',
        result: 'Equal',
        mod_revision: e.mod,
      })),
    ];
    const failure: IRequestOp[] = [
      ...merged.map((r) => ({
        request_range: {
          key: r.key,
          range_end: r.end,
          limit: 1,
          sort_target: 'Mod' as const,
          sort_order: 'Descend' as const,
          keys_only: true,
        },
      })),
      ...exact.map((e) => ({ request_range: { key: e.key, keys_only: true } })),
    ];
    return { compare, failure };
  }
}

/** The function's view of the store: the node's view plus its own buffered writes. */
export class ViewTx implements StoreTx {
  readonly inTransaction = true as const;
  readonly writes = new TxWrites();
  readonly reads = new ReadSet();

  constructor(private readonly view: EtcdView) {}

  get<T = Json>(key: string): StoreEntry<T> | undefined {
    checkKey(key);
    const own = this.writes.own<T>(key);
    if (own !== undefined) return own ?? undefined;
    const held = this.view.heldKey(key);
    this.reads.keys.set(key, { mod: held?.mod ?? 0, leased: !!held && held.lease !== '0' });
    return this.view.get<T>(key);
  }

  list<T = Json>(prefix: string): StoreEntry<T>[] {
    checkPrefix(prefix);
    this.reads.prefixes.add(prefix);
    const entries = this.view.list<T>(prefix);
    for (const entry of entries) {
      const held = this.view.heldKey(entry.key)!;
      if (held.lease !== '0') this.reads.keys.set(entry.key, { mod: held.mod, leased: true });
    }
    return this.writes.merge(prefix, entries);
  }

  put(key: string, value: Json): void {
    this.writes.put(key, value);
  }

  delete(key: string): void {
    this.writes.delete(key);
  }
}

/** Commit `writes` iff nothing in `reads` changed since `revision`. */
export async function commitTx(
  io: EtcdIo,
  reads: ReadSet,
  writes: TxWrites,
  revision: number,
): Promise<TxOutcome> {
  const { compare, failure } = reads.compares(io, revision);
  const success: IRequestOp[] = [];
  for (const [key, encoded] of writes.entries()) {
    const etcdKey = io.dataKey(key);
    success.push(
      encoded === undefined
        ? deleteIfLive(etcdKey, io.tombstone())
        : { request_put: { key: etcdKey, value: Buffer.from(encoded) } },
    );
  }
  const keys = [...writes.entries()].map(([k]) => JSON.stringify(k));
  const shown = keys.length > 5 ? [...keys.slice(0, 5), '...'] : keys;
  const what = `transaction writing store key${keys.length > 1 ? 's' : ''} ${shown.join(', ')}`;
  const res = await io.call(what, true, (o) => io.client.kv.txn({ compare, success, failure }, o));
  if (res.succeeded) {
    return { committed: true, revision: Number(res.header.revision), wrote: wroteAny(res) };
  }
  return { committed: false, stale: staleness(io, res, compare) };
}

/**
 * Whether what `reads` saw at `revision` is still etcd's: one Txn with the commit's
 * compares and no writes (a quorum read: it goes through raft as any Txn does). Resolves
 * undefined when it is, else what the view must hold to be as new. Nothing read: current.
 */
export async function checkReads(
  io: EtcdIo,
  reads: ReadSet,
  revision: number,
): Promise<Staleness | undefined> {
  if (reads.keys.size === 0 && reads.prefixes.size === 0) return undefined;
  const { compare, failure } = reads.compares(io, revision);
  const res = await io.call('check of what a refusing transaction read', false, (o) =>
    io.client.kv.txn({ compare, success: [], failure }, o),
  );
  return res.succeeded ? undefined : staleness(io, res, compare);
}

/** Wait until the view holds what made a run stale (then a little more, on a streak). */
export async function catchUp(
  gate: WriteGate,
  view: EtcdView,
  stale: Staleness,
  reads: ReadSet,
  attempt: number,
): Promise<void> {
  const seen = view.revision;
  const readMod = (key: string) => reads.keys.get(key)?.mod;
  await gate.viewCatchesUp(
    () =>
      view.revision >= stale.revision &&
      stale.vanished.every((key) => view.heldKey(key)?.mod !== readMod(key)),
    'transaction',
  );
  // The view held the winning change before etcd answered: the winner's next commit is
  // likely on its way already, and a run now would race it from behind (one node would
  // win streak after streak). Run again with the next change, or after a pause.
  if (seen >= stale.revision) {
    await view.nextChange(seen, Math.random() * Math.min(2 ** attempt, 16));
  }
}

/** A delete is a tombstone put, made only when the key is live (a nested Txn). */
export function deleteIfLive(key: Buffer, tombstone: Buffer): IRequestOp {
  return {
    request_txn: {
      compare: [{ key, target: 'Value', result: 'NotEqual', value: tombstone }],
      success: [{ request_put: { key, value: tombstone } }],
      failure: [],
    },
  };
}

/** Whether a committed Txn changed anything (deletes of absent keys do not). */
function wroteAny(res: ITxnResponse): boolean {
  return res.responses.some((r) => r.response_put || r.response_txn?.succeeded);
}

function staleness(io: EtcdIo, res: ITxnResponse, compare: ICompare[]): Staleness {
  const stale: Staleness = { revision: 0, vanished: [] };
  res.responses.forEach((r, i) => {
    const kv = r.response_range?.kvs[0];
    if (kv) stale.revision = Math.max(stale.revision, Number(kv.mod_revision));
    else if (compare[i].result === 'Equal') stale.vanished.push(io.userKey(compare[i].key!));
  });
  return stale;
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
