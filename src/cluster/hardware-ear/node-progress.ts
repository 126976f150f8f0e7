// Hardware EAR across the nodes of a cluster. The cluster-wide state (ear-state.ts) is the
// intent: while it is `enabling` (or `disabling`) each node's agent secures (or opens) its own
// drives and then records that it is done, `ear/nodes/<nodeID>`. The node that finds every
// active node done, in the same transaction that records its own marker, moves the state on;
// the store's transactions re-run when a marker they read changed, so two nodes finishing
// at once cannot both miss each other. A node that is offline has no marker: the state stays.
// Enable and Disable clear the markers they start from. Under `enabled`, a node without a
// marker while others have one joined later: its agent secures its drives then.
import type { Json, StoreReader, StoreTx } from '../../store/store';
import { SINGLE_NODE_ID } from '../drives/drive-records';
import { activeNodes } from '../nodes/node-records';
import { getEar } from '../ear-state';

export const NODE_PROGRESS_PREFIX = 'ear/nodes/';

/** The state a node's own drives have reached, in the transition under way. */
export type NodeReached = 'enabled' | 'disabled';

interface NodeProgress {
  nodeID: number;
  reached: NodeReached;
  at: string;
}

const progressKey = (nodeID: number): string => `${NODE_PROGRESS_PREFIX}${nodeID}`;

function progress(reader: StoreReader): NodeProgress[] {
  return reader.list<NodeProgress>(NODE_PROGRESS_PREFIX).map((e) => e.value);
}

/** Whether `nodeID` has done its drives for `target`. */
export function nodeReached(reader: StoreReader, nodeID: number, target: NodeReached): boolean {
  return progress(reader).some((p) => p.nodeID === nodeID && p.reached === target);
}

export function recordNodeReached(tx: StoreTx, nodeID: number, reached: NodeReached): void {
  const record: NodeProgress = { nodeID, reached, at: new Date().toISOString() };
  tx.put(progressKey(nodeID), record as unknown as Json);
}

/** At the start of Enable or Disable: no node has done the new transition yet. */
export function clearNodeProgress(tx: StoreTx): void {
  for (const p of progress(tx)) tx.delete(progressKey(p.nodeID));
}

/** The active nodes (node 1 alone while none is recorded) that have not reached `target`. */
export function nodesBehind(reader: StoreReader, target: NodeReached): number[] {
  const nodes = activeNodes(reader).map((n) => n.nodeID);
  const all = nodes.length ? nodes : [SINGLE_NODE_ID];
  return all.filter((id) => !nodeReached(reader, id, target));
}

/**
 * What this node's agent still owes the cluster-wide state: `enable` or `disable` its drives
 * during a transition it has not done; `enable` under `enabled` when it joined after it (other
 * nodes have markers, it has none; a store enabled before markers existed has none at all).
 */
export function agentWork(reader: StoreReader, nodeID: number): 'enable' | 'disable' | undefined {
  const { state } = getEar(reader);
  if (state === 'enabling') return nodeReached(reader, nodeID, 'enabled') ? undefined : 'enable';
  if (state === 'disabling') return nodeReached(reader, nodeID, 'disabled') ? undefined : 'disable';
  if (state === 'enabled' && progress(reader).length && !nodeReached(reader, nodeID, 'enabled')) {
    return 'enable';
  }
  return undefined;
}
