// How internal AKs (hardware EAR without a key provider) are sealed and opened. Once the
// drive-access key (DAK) is split across the nodes, a new internal AK is sealed under it
// inside the cluster sealer, and its record says so (`sealing: 'dak'`); opening one takes
// the DAK back from this node's share and a peer's, zeroed as soon as the keys are out.
// Records without the marker (a single node, SQLite, or sealed before the split) keep
// opening under the cluster sealer alone.
import type { StoreReader } from '../../store/store';
import type { Sealer } from '../sealer';
import { dakOf, withDak, type DakAccess } from '../split-key/dak-access';
import { DakSealer } from '../split-key/dak-sealer';
import { splitKeyState } from '../split-key/split-key-records';
import type { DriveKeyRecord } from './drive-keys';

export const DAK_SEALING = 'dak';

export interface InternalSealingDeps {
  store: StoreReader;
  /** The cluster sealer (the node's own on SQLite). */
  sealer: Sealer;
  /** Given on a shared store: the DAK is put together through it. */
  dak?: DakAccess;
}

/** What keyRecordFor seals an internal AK with, and the marker its record carries. */
export interface InternalSealing {
  sealer: Sealer;
  sealing?: typeof DAK_SEALING;
}

export const isDakSealed = (record: Pick<DriveKeyRecord, 'sealing'>): boolean =>
  record.sealing === DAK_SEALING;

/**
 * Runs `fn` with the sealing new internal AKs take: under the DAK once it is split (put
 * together for this call, zeroed after; a SplitKeyError when no peer gives its share), else
 * the cluster sealer alone.
 */
export async function withNewKeySealing<R>(
  deps: InternalSealingDeps,
  fn: (where: InternalSealing) => R | Promise<R>,
): Promise<R> {
  if (!deps.dak || !splitKeyState(deps.store)) return fn({ sealer: deps.sealer });
  return withDak(deps.store, deps.dak, (dak) =>
    fn({ sealer: new DakSealer(dak, deps.sealer), sealing: DAK_SEALING }),
  );
}

/** The sealer that opens a record, or why it cannot be had. */
export type InternalOpener = (record: DriveKeyRecord) => Sealer | Error;

/**
 * Runs `fn` with what opens the internal keys of `records`: the DAK is put together only
 * when one of them is sealed under it (and zeroed after); when it cannot be, those records
 * get the reason and the others still open.
 */
export async function withInternalOpener<R>(
  deps: InternalSealingDeps,
  records: DriveKeyRecord[],
  fn: (open: InternalOpener) => R | Promise<R>,
): Promise<R> {
  if (!records.some((r) => r.keyProviderID === null && isDakSealed(r))) {
    return fn(() => deps.sealer);
  }
  let dak: Buffer;
  try {
    dak = await dakOf(deps.store, deps.dak);
  } catch (err) {
    const why = err as Error;
    return fn((r) => (isDakSealed(r) ? why : deps.sealer));
  }
  try {
    const underDak = new DakSealer(dak, deps.sealer);
    return await fn((r) => (isDakSealed(r) ? underDak : deps.sealer));
  } finally {
    dak.fill(0);
  }
}
