// The key plan's part for drives whose internal AK is sealed under the split drive-access
// key (DAK): their sealed AKs and this node's share as the store holds them, the split's
// generation, holders and check value, and where the peers holding a share listen on the
// node link, with the certificates pinned for them. The early unlock puts the DAK together
// from it without the store: this node's share opened with its own X25519 key, one peer's
// fetched over mutual TLS. Nothing in it is secret in clear: the AKs are under the DAK
// inside the cluster sealer, the share is wrapped to this node, and one share says nothing
// of the DAK.
import type { StoreReader } from '../../store/store';
import type { NodeSealingKey } from '../../store/node-sealing-key';
import { isDakSealed } from '../drive-keys/internal-sealing';
import { activeNodes } from '../nodes/node-records';
import type { TlsIdentity } from '../self-signed';
import { dakWithPeerShare } from '../split-key/reconstruct';
import { openShare, type ShareHolder } from '../split-key/split-key';
import { shareRecord, splitKeyState } from '../split-key/split-key-records';
import type { KeyedDrive } from './round-drives';

/** This node as a share holder, its sealing key aside (the plan is made without it). */
export type SplitKeyHolder = Pick<ShareHolder, 'nodeID' | 'clusterUuid'>;

/** A peer holding a share of the planned generation: where its link listens, and its pin. */
export interface PlannedPeer {
  nodeID: number;
  /** Its mip. */
  host: string;
  port: number;
  /** Its link certificate (PEM) as its active record holds it. */
  certificate: string;
}

/** A drive whose AK is sealed under the DAK, with its key record's blob and check value. */
export interface PlannedDakDrive {
  driveID: number;
  serial: string;
  path: string;
  keyID: string;
  /** base64, as the key record holds it: the DAK's seal inside the cluster sealer's. */
  sealedKey: string;
  /** hex HMAC-SHA256 under the AK of the serial (drive-keys.ts). */
  keyCheckValue: string;
}

export interface PlannedSplitKey {
  /** This node, and the cluster its share is bound to. */
  nodeID: number;
  clusterUuid: string;
  /** The split's current generation, its holders and the DAK's check value. */
  generation: number;
  nodeIDs: number[];
  keyCheckValue: string;
  /** This node's share of `generation`, wrapped to its X25519 key (base64, as the store holds it). */
  wrappedShare: string;
  /** The other holders, in nodeID order. */
  peers: PlannedPeer[];
  /** By driveID. */
  drives: PlannedDakDrive[];
}

/**
 * The plan's split-key part for the drives among `keyed` whose AK is sealed under the DAK;
 * undefined when there is none, no split, or no share of this node's in the current one.
 */
export function plannedSplitKey(
  store: StoreReader,
  holder: SplitKeyHolder,
  keyed: KeyedDrive[],
): PlannedSplitKey | undefined {
  const drives = keyed
    .filter(({ key }) => key.keyProviderID === null && isDakSealed(key) && key.sealedKey)
    .map(({ drive, key }) => ({
      driveID: drive.driveID,
      serial: key.serial,
      path: drive.path,
      keyID: key.keyID,
      sealedKey: key.sealedKey!,
      keyCheckValue: key.keyCheckValue,
    }))
    .sort((a, b) => a.driveID - b.driveID);
  const state = splitKeyState(store);
  const share = shareRecord(store, holder.nodeID);
  if (!drives.length || !state || share?.generation !== state.generation) return undefined;
  const peers = activeNodes(store)
    .filter((n) => n.nodeID !== holder.nodeID && state.nodeIDs.includes(n.nodeID) && n.link)
    .map((n) => ({ nodeID: n.nodeID, host: n.mip, ...n.link! }))
    .sort((a, b) => a.nodeID - b.nodeID);
  return {
    nodeID: holder.nodeID,
    clusterUuid: holder.clusterUuid,
    generation: state.generation,
    nodeIDs: state.nodeIDs,
    keyCheckValue: state.keyCheckValue,
    wrappedShare: share.wrapped,
    peers,
    drives,
  };
}

/**
 * The DAK from the plan: this node's share opened with `sealingKey`, and the first peer's
 * that gives the planned check value. The caller zeroes it, and `identity`'s key; a
 * SplitKeyError (naming each peer and why) when it cannot be had.
 */
export async function dakFromPlan(
  planned: PlannedSplitKey,
  sealingKey: NodeSealingKey,
  identity: TlsIdentity,
  timeoutMs?: number,
): Promise<Buffer> {
  const { nodeID, clusterUuid, generation } = planned;
  const own = openShare(planned.wrappedShare, { nodeID, clusterUuid, sealingKey }, generation);
  try {
    return await dakWithPeerShare(own, planned.peers, planned, identity, timeoutMs);
  } finally {
    own.fill(0);
  }
}
