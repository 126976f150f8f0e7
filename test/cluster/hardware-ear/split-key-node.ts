// A node running hardware EAR on a store whose drive-access key (DAK) may be split: node 1
// runs the drives and reaches the DAK through its share node; peers 2 and 3 (no drives of
// their own) serve their shares over the real node link and record, as their agents would,
// that they are done with a transition.
import { join } from 'node:path';
import { clusterUuid } from '../../../src/cluster/ear-state';
import {
  recordNodeReached,
  type NodeReached,
} from '../../../src/cluster/hardware-ear/node-progress';
import { activeNodeKey } from '../../../src/cluster/nodes/node-records';
import type { DakAccess } from '../../../src/cluster/split-key/dak-access';
import { startShareNode, type ShareNode } from '../split-key/share-nodes';
import { createCluster, startEarNode, type EarNode } from './ear-node';

type Tap = Parameters<typeof startEarNode>[0];

/** A node whose hardware EAR reaches the DAK through the share node later made for it. */
export async function earNodeWithAccess(t: Tap, drives: number) {
  let own: ShareNode | undefined;
  const access: DakAccess = {
    holder: () => own?.holder,
    linkIdentity: () => own!.linkIdentity(),
    timeoutMs: 3000,
  };
  const node = await startEarNode(t, { drives, faults: true, dak: () => access });
  await createCluster(node);
  const uuid = clusterUuid(node.store);
  // Node 1 is the node running the drives: its record gets its sealing key and link.
  own = await startShareNode(t, node.store, {
    nodeID: 1,
    dir: node.dir,
    clusterUuid: uuid,
    local: node.sealer,
  });
  const peer = (nodeID: number) =>
    startShareNode(t, node.store, {
      nodeID,
      dir: join(node.dir, `peer${nodeID}`),
      clusterUuid: uuid,
    });
  return { node, own, access, uuid, peer };
}

/**
 * Peers 2 and 3 (drives of their own: none) record they are done with `target`, as their
 * agents would; their records are written again so node 1's agent looks once more.
 */
export async function peersReached(node: EarNode, target: NodeReached): Promise<void> {
  await node.store.transaction((tx) => {
    for (const nodeID of [2, 3]) {
      recordNodeReached(tx, nodeID, target);
      tx.put(activeNodeKey(nodeID), tx.get(activeNodeKey(nodeID))!.value);
    }
  });
}
