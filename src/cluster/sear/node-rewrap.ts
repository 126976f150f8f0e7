// A rekey across the nodes of a cluster: each node re-wraps the DEKs of its own drives (the
// records that name it), the master those of no node in the cluster (records written
// before DEKs carried their node, or of a node since removed). Each node's part ends with
// its marker, `sear/nodes/<nodeID>` = the MK that now wraps all of its DEKs. The master
// commits once every online node has its marker: a node offline then keeps its DEKs under
// the old MK, which stays (`retiring`) until that node, back, re-wraps them to the current
// MK; nothing names it any more and it is destroyed. Every unwrap uses the MK the record
// names, so a DEK is readable at every moment whichever key wraps it.
import type { Logger } from 'pino';
import type { Store, StoreReader, StoreTx } from '../../store/store';
import { activeNodes, aliveKey } from '../nodes/node-records';
import { writeInChunks } from '../store-chunks';
import { crashPoint } from '../test-hooks';
import { unwrapKey, wrapKey } from './key-wrap';
import {
  getDek,
  getJournal,
  getMasterKey,
  getSearState,
  listDeks,
  nodeMarkers,
  putDek,
  wrappedBy,
  type DekRecord,
  type MasterKeyRecord,
} from './sear-store';

export interface RewrapDeps {
  store: Store;
  /** The MK's material (the caller zeroes it). */
  loadKey(k: MasterKeyRecord): Promise<Buffer>;
  logger?: Logger;
}

/**
 * The MK a node's DEKs must be wrapped by now: a rekey's new one while the nodes stage it
 * (`stage`: as `next`, beside the old wrap), else the current one (in place of the wrap).
 * None while a committed rekey settles the records (its master is at it).
 */
export interface RewrapTarget {
  keyID: string;
  stage: boolean;
}

export function rewrapTarget(reader: StoreReader): RewrapTarget | undefined {
  const state = getSearState(reader);
  if (!state) return undefined;
  const journal = getJournal(reader);
  if (journal?.phase === 'created') return { keyID: journal.to.keyID, stage: true };
  if (journal?.phase === 'committed') return undefined;
  return { keyID: state.currentKeyID, stage: false };
}

const sameTarget = (a: RewrapTarget | undefined, b: RewrapTarget): boolean =>
  a?.keyID === b.keyID && a.stage === b.stage;

/** The DEKs `nodeID` re-wraps. */
export function deksOf(reader: StoreReader, nodeID: number): DekRecord[] {
  return listDeks(reader).filter((d) => d.nodeID === nodeID);
}

/** The DEKs the master re-wraps: of no node recorded, or of a node no longer in the cluster. */
export function masterDeks(reader: StoreReader): DekRecord[] {
  const active = new Set(activeNodes(reader).map((n) => n.nodeID));
  return listDeks(reader).filter((d) => d.nodeID === undefined || !active.has(d.nodeID));
}

/**
 * Whether a rekey to `keyID` may commit: the master's DEKs staged, and every online active
 * node done (its marker, its DEKs staged). `behind`: the offline nodes with DEKs not staged.
 */
export function commitCheck(
  reader: StoreReader,
  keyID: string,
): { ready: boolean; behind: number[] } {
  const staged = (d: DekRecord): boolean => wrappedBy(d, keyID) !== undefined;
  if (!masterDeks(reader).every(staged)) return { ready: false, behind: [] };
  const behind: number[] = [];
  for (const { nodeID } of activeNodes(reader)) {
    const allStaged = deksOf(reader, nodeID).every(staged);
    if (allStaged && nodeMarkers.reached(reader, nodeID, keyID)) continue;
    if (reader.get(aliveKey(nodeID)) !== undefined) return { ready: false, behind: [] };
    if (!allStaged) behind.push(nodeID);
  }
  return { ready: true, behind };
}

/**
 * `deks` wrapped by `target`, in chunks; each chunk first checks `still(tx)` (the target
 * holds) and unwraps each DEK with the MK its record names now. Returns how many changed.
 */
export async function rewrapDeks(
  deps: RewrapDeps,
  deks: DekRecord[],
  target: RewrapTarget,
  still: (tx: StoreTx) => boolean,
): Promise<number> {
  const todo = deks.filter((d) => !wrappedBy(d, target.keyID));
  if (todo.length === 0) return 0;
  const keys = new Map<string, Buffer>();
  try {
    for (const keyID of new Set([target.keyID, ...todo.map((d) => d.keyID)])) {
      const record = getMasterKey(deps.store, keyID);
      if (!record || record.state === 'destroyed') throw new Error(`master key ${keyID} is gone`);
      keys.set(keyID, await deps.loadKey(record));
    }
    const to = keys.get(target.keyID)!;
    await writeInChunks(deps.store, todo, 1, (tx, d) => {
      if (!still(tx)) throw new Error('the master key to wrap the DEKs by changed');
      const now = getDek(tx, d.serial);
      if (!now || wrappedBy(now, target.keyID)) return;
      const from = keys.get(now.keyID);
      if (!from) throw new Error(`the DEK of ${now.serial} is now wrapped by ${now.keyID}`);
      const dek = unwrapKey(from, Buffer.from(now.wrapped, 'base64'), `the DEK of ${now.serial}`);
      let wrapped: string;
      try {
        wrapped = wrapKey(to, dek).toString('base64');
      } finally {
        dek.fill(0);
      }
      if (target.stage) putDek(tx, { ...now, next: { keyID: target.keyID, wrapped } });
      else {
        const { next: _old, ...rest } = now;
        putDek(tx, { ...rest, keyID: target.keyID, wrapped });
      }
    });
    return todo.length;
  } finally {
    for (const k of keys.values()) k.fill(0);
  }
}

/**
 * A node's part (its agent, in each of its SEAR rounds): its own DEKs wrapped by the target,
 * then its marker. Also what a node that was offline during a rekey does when it is back.
 */
export async function rewrapOwnDeks(deps: RewrapDeps, nodeID: number): Promise<void> {
  const target = rewrapTarget(deps.store);
  if (!target) return;
  const still = (tx: StoreReader): boolean => sameTarget(rewrapTarget(tx), target);
  const changed = await rewrapDeks(deps, deksOf(deps.store, nodeID), target, still);
  if (changed) crashPoint('sear.afterNodeRewrap');
  else if (nodeMarkers.reached(deps.store, nodeID, target.keyID)) return; // nothing to do
  const recorded = await deps.store.transaction((tx) => {
    if (!still(tx) || deksOf(tx, nodeID).some((d) => !wrappedBy(d, target.keyID))) return false;
    // Recorded again after a change: the master, watching the markers, looks again.
    if (!changed && nodeMarkers.reached(tx, nodeID, target.keyID)) return false;
    nodeMarkers.record(tx, nodeID, target.keyID);
    return true;
  });
  if (changed || recorded)
    deps.logger?.info(
      { nodeID, keyID: target.keyID, deks: changed, staged: target.stage },
      "this node's DEKs re-wrapped",
    );
}

/**
 * The master's, outside a rekey (a rekey stages them itself): the DEKs of no node in the
 * cluster re-wrapped in place to the current MK, so that a node removed while it was behind
 * does not keep a retiring MK alive.
 */
export async function rewrapMasterDeks(deps: RewrapDeps): Promise<void> {
  const target = rewrapTarget(deps.store);
  if (!target || target.stage) return;
  const still = (tx: StoreReader): boolean => sameTarget(rewrapTarget(tx), target);
  await rewrapDeks(deps, masterDeks(deps.store), target, still);
}
