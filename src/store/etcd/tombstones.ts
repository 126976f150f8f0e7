// Keeping the store's etcd keyspace bounded. A cluster master calls maintain() every few
// minutes; each call:
//   1. records a checkpoint (the revision now, the time now) under <prefix>maint/, because
//      etcd revisions carry no time and "older than an hour" must be said of revisions;
//   2. takes the newest checkpoint older than the retention (default one hour), and
//   3. removes for good the tombstones (deleted keys) last changed at or before it — a
//      tombstone only has to outlive the transactions and watches that may still compare
//      against it, and those are far younger than the retention;
//   4. compacts etcd's history at that revision, so old versions of every key go too.
// A node's view whose watch is behind the compacted revision (it was cut off meanwhile)
// lists the store again and tells its watchers the difference. Compaction is etcd-wide: with several clusters on one etcd, it follows the
// shortest retention among them. etcd's file shrinks only by defragmentation, which
// blocks a member while it runs: left to operators (etcdctl defrag), one member at a time.
import type { IKeyValue } from 'etcd3';
import type { MaintenanceReport } from '../store';
import { TxConflict } from '../tx-buffer';
import { isTombstone, type EtcdIo } from './client';

export const DEFAULT_RETAIN_MS = 3_600_000;
const MAX_CHECKPOINTS = 100;
/** Keys scanned per request (values and all: a tombstone is told by its empty value). */
const SCAN_PAGE = 256;
/** Tombstones removed per etcd Txn (a compare and a delete each: within 128 ops). */
const PURGE_BATCH = 64;

interface Checkpoint {
  revision: number;
  at: number;
}

export async function maintainEtcd(io: EtcdIo, retainMs: number): Promise<MaintenanceReport> {
  const key = Buffer.from(`${io.maintPrefix}checkpoints`);
  const res = await io.call('read of the maintenance checkpoints', false, (o) =>
    io.client.kv.range({ key }, o),
  );
  const now = Date.now();
  const checkpoints = parseCheckpoints(res.kvs[0]);
  checkpoints.push({ revision: Number(res.header.revision), at: now });
  const due = checkpoints.filter((c) => c.at <= now - retainMs).pop();
  const kept = checkpoints.filter((c) => !due || c.revision >= due.revision);
  await io.call('write of the maintenance checkpoints', true, (o) =>
    io.client.kv.put({ key, value: Buffer.from(JSON.stringify(kept.slice(-MAX_CHECKPOINTS))) }, o),
  );
  if (!due) return { compactedRevision: 0, tombstonesRemoved: 0 };
  const tombstonesRemoved = await purgeTombstones(io, due.revision);
  try {
    await io.call(`compaction at revision ${due.revision}`, true, (o) =>
      io.client.kv.compact({ revision: due.revision }, o),
    );
  } catch (err) {
    if (!(err instanceof TxConflict)) throw err; // already compacted past it
  }
  return { compactedRevision: due.revision, tombstonesRemoved };
}

async function purgeTombstones(io: EtcdIo, upTo: number): Promise<number> {
  let removed = 0;
  const range = io.dataRange('');
  let start = range.key;
  let revision: string | undefined;
  for (;;) {
    const page = await io.call('scan for tombstones', false, (o) =>
      io.client.kv.range(
        {
          key: start,
          range_end: range.range_end,
          limit: SCAN_PAGE,
          max_mod_revision: upTo,
          revision,
        },
        o,
      ),
    );
    revision ??= page.header.revision;
    const tombstones = page.kvs.filter(isTombstone);
    for (let i = 0; i < tombstones.length; i += PURGE_BATCH) {
      removed += await removeTombstones(io, tombstones.slice(i, i + PURGE_BATCH));
    }
    if (!page.more || page.kvs.length === 0) return removed;
    start = Buffer.concat([page.kvs[page.kvs.length - 1].key, Buffer.from([0])]);
  }
}

/** Delete tombstones still as they were (a key re-created meanwhile stays). */
async function removeTombstones(io: EtcdIo, tombstones: IKeyValue[]): Promise<number> {
  const txn = (batch: IKeyValue[]) =>
    io.call('removal of tombstones', true, (o) =>
      io.client.kv.txn(
        {
          compare: batch.map((kv) => ({
            key: kv.key,
            target: 'Mod' as const,
            result: 'Equal' as const,
            mod_revision: kv.mod_revision,
          })),
          success: batch.map((kv) => ({ request_delete_range: { key: kv.key } })),
          failure: [],
        },
        o,
      ),
    );
  if ((await txn(tombstones)).succeeded) return tombstones.length;
  let removed = 0;
  for (const kv of tombstones) if ((await txn([kv])).succeeded) removed++;
  return removed;
}

function parseCheckpoints(kv: IKeyValue | undefined): Checkpoint[] {
  if (!kv) return [];
  try {
    const parsed = JSON.parse(kv.value.toString('utf8')) as unknown;
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (c): c is Checkpoint =>
        Number.isSafeInteger((c as Checkpoint)?.revision) && Number.isFinite((c as Checkpoint)?.at),
    );
  } catch {
    return [];
  }
}
