// Hardware EAR across the nodes of a cluster. The cluster-wide state (ear-state.ts) is the
// intent: while it is `enabling` (or `disabling`) each node's agent secures (or opens) its own
// drives and then records that it is done, `ear/nodes/<nodeID>` (a marker of
// nodes/node-markers.ts). The node that finds every active node done, in the same transaction
// that records its own marker, moves the state on. A node that is offline has no marker: the
// state stays. Enable and Disable clear the markers they start from. Under `enabled`, a node
// without a marker while others have one joined later: its agent secures its drives then.
import type { StoreReader, StoreTx } from '../../store/store';
import { NodeMarkers } from '../nodes/node-markers';
import { getEar } from '../ear-state';

export const NODE_PROGRESS_PREFIX = 'ear/nodes/';

/** The state a node's own drives have reached, in the transition under way. */
export type NodeReached = 'enabled' | 'disabled';

const markers = new NodeMarkers(NODE_PROGRESS_PREFIX);

/** Whether `nodeID` has done its drives for `target`. */
export function nodeReached(reader: StoreReader, nodeID: number, target: NodeReached): boolean {
  return markers.reached(reader, nodeID, target);
}

export function recordNodeReached(tx: StoreTx, nodeID: number, reached: NodeReached): void {
  markers.record(tx, nodeID, reached);
}

/** At the start of Enable or Disable: no node has done the new transition yet. */
export function clearNodeProgress(tx: StoreTx): void {
  markers.clear(tx);
}

/** The active nodes (node 1 alone while none is recorded) that have not reached `target`. */
export function nodesBehind(reader: StoreReader, target: NodeReached): number[] {
  return markers.behind(reader, target);
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
  if (
    state === 'enabled' &&
    markers.list(reader).length &&
    !nodeReached(reader, nodeID, 'enabled')
  ) {
    return 'enable';
  }
  return undefined;
}
