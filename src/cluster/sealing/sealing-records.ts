// Store layout of the cluster sealing key (CSK): never the key itself. sealing/state names
// the current generation (what new blobs are sealed under); sealing/grants/<nodeID> holds
// the current generation wrapped to that node's published X25519 key, written in the same
// commit that makes the node active and deleted in the one that removes it.
import type { StoreReader } from '../../store/store';

export const SEALING_STATE_KEY = 'sealing/state';
export const GRANT_PREFIX = 'sealing/grants/';

export interface SealingState {
  generation: number;
}

export interface GrantRecord {
  nodeID: number;
  generation: number;
  /** The CSK wrapped to the node's sealing key (base64). */
  wrapped: string;
}

export const grantKey = (nodeID: number): string => `${GRANT_PREFIX}${nodeID}`;

export function sealingState(reader: StoreReader): SealingState | undefined {
  return reader.get<SealingState>(SEALING_STATE_KEY)?.value;
}

/** What a grant is bound to: the cluster, the node and the generation. */
export const grantContext = (clusterUuid: string, nodeID: number, generation: number): string =>
  `cluster=${clusterUuid}\0node=${nodeID}\0generation=${generation}`;
