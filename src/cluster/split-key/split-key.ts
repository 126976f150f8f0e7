// The drive-access key (DAK) split 2-of-n across the active nodes with Shamir's secret
// sharing (util/shamir). Each node's share reaches it wrapped to its own sealing key; the
// DAK itself exists only in memory, made here or put back together from two shares
// (reconstruct.ts), and is zeroed by whoever holds it once done.
//
// A change of membership splits the same DAK again under a new generation: a new random
// polynomial, so a removed node's share combines with none of the new ones, and the
// removed node's share record goes in the same commit.
import { randomBytes } from 'node:crypto';
import { unwrapForNode, wrapToNode, type NodeSealingKey } from '../../store/node-sealing-key';
import type { Json, StoreReader, StoreTx } from '../../store/store';
import { split } from '../../util/shamir';
import type { NodeRecord } from '../nodes/node-records';
import type { ShareSource } from '../node-link/share-server';
import {
  dakCheckValue,
  shareContext,
  shareKey,
  shareRecord,
  SHARE_PREFIX,
  SPLIT_KEY_STATE_KEY,
  splitKeyState,
  THRESHOLD,
  type ShareRecord,
  type SplitKeyState,
} from './split-key-records';

export const DAK_BYTES = 32;

/** The split key cannot be had: the message names nodes and generations, never a share. */
export class SplitKeyError extends Error {
  override name = 'SplitKeyError';
}

/**
 * A new DAK, split across `nodes` under the next generation, inside the caller's
 * transaction. Returns the DAK: the caller wraps what it must under it, then zeroes it.
 */
export function newSplitKeyIn(tx: StoreTx, nodes: NodeRecord[], clusterUuid: string): Buffer {
  const dak = randomBytes(DAK_BYTES);
  try {
    resplitIn(tx, dak, nodes, clusterUuid);
    return dak;
  } catch (err) {
    dak.fill(0);
    throw err;
  }
}

/**
 * `dak` split again across `nodes` (the active ones after a change) under a new generation;
 * the shares of nodes not among them are deleted. The caller still owns `dak`.
 */
export function resplitIn(
  tx: StoreTx,
  dak: Buffer,
  nodes: NodeRecord[],
  clusterUuid: string,
): void {
  if (nodes.length < THRESHOLD) {
    throw new SplitKeyError(`the key is split across ${THRESHOLD} nodes or more`);
  }
  const missing = nodes.filter((n) => !n.sealingKey).map((n) => n.nodeID);
  if (missing.length) throw new SplitKeyError(`nodes ${missing.join(', ')} publish no sealing key`);
  const generation = (splitKeyState(tx)?.generation ?? 0) + 1;
  const shares = split(dak, nodes.length, THRESHOLD);
  try {
    nodes.forEach((node, i) => {
      const wrapped = wrapToNode(
        shares[i]!,
        node.sealingKey!,
        shareContext(clusterUuid, node.nodeID, generation),
      );
      const record: ShareRecord = {
        nodeID: node.nodeID,
        generation,
        wrapped: wrapped.toString('base64'),
      };
      tx.put(shareKey(node.nodeID), record as unknown as Json);
    });
  } finally {
    for (const share of shares) share.fill(0);
  }
  const holders = new Set(nodes.map((n) => n.nodeID));
  for (const { key, value } of tx.list<ShareRecord>(SHARE_PREFIX)) {
    if (!holders.has(value.nodeID)) tx.delete(key);
  }
  const state: SplitKeyState = {
    generation,
    nodeIDs: [...holders].sort((a, b) => a - b),
    keyCheckValue: dakCheckValue(dak, generation),
  };
  tx.put(SPLIT_KEY_STATE_KEY, state as unknown as Json);
}

/** Who this node is, for opening its own share. */
export interface ShareHolder {
  nodeID: number;
  sealingKey: NodeSealingKey;
  clusterUuid: string;
}

/** This node's share of `generation` (the caller zeroes it), or none. */
export function ownShare(
  reader: StoreReader,
  holder: ShareHolder,
  generation: number,
): Buffer | undefined {
  const record = shareRecord(reader, holder.nodeID);
  if (!record || record.generation !== generation) return undefined;
  return openShare(record.wrapped, holder, generation);
}

/** This node's share of `generation` from its wrapped form (base64); the caller zeroes it. */
export function openShare(wrapped: string, holder: ShareHolder, generation: number): Buffer {
  try {
    return unwrapForNode(
      Buffer.from(wrapped, 'base64'),
      holder.sealingKey,
      shareContext(holder.clusterUuid, holder.nodeID, generation),
    );
  } catch {
    throw new SplitKeyError(`node ${holder.nodeID} cannot open its key share`);
  }
}

/**
 * What this node serves its peers (cluster/node-link): its share of the current generation,
 * only to a node that holds a share of that generation too.
 */
export function shareSource(reader: StoreReader, holder: ShareHolder): ShareSource {
  return (requester, generation) => {
    const state = splitKeyState(reader);
    if (!state || state.generation !== generation) return undefined;
    if (!state.nodeIDs.includes(requester.nodeID)) return undefined;
    if (requester.nodeID === holder.nodeID) return undefined;
    return ownShare(reader, holder, generation);
  };
}
