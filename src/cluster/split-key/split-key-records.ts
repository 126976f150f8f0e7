// Store layout of the split drive-access key (DAK): never the key, never a share in the
// clear. split-key/state names the current generation, the nodes holding a share of it and
// a check value of the DAK; split-key/shares/<nodeID> holds that node's share wrapped to the
// X25519 key it published (as a CSK grant is), so a store snapshot with one node's files
// opens that node's share alone, and one share says nothing of the DAK.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { StoreReader } from '../../store/store';

export const SPLIT_KEY_STATE_KEY = 'split-key/state';
export const SHARE_PREFIX = 'split-key/shares/';
/** Any two nodes' shares give the DAK back. */
export const THRESHOLD = 2;

export interface SplitKeyState {
  generation: number;
  /** The nodes holding a share of this generation. */
  nodeIDs: number[];
  /** hex HMAC-SHA256 under the DAK: tells a reconstructed DAK from a wrong one. */
  keyCheckValue: string;
}

export interface ShareRecord {
  nodeID: number;
  generation: number;
  /** The share wrapped to the node's sealing key (base64). */
  wrapped: string;
}

export const shareKey = (nodeID: number): string => `${SHARE_PREFIX}${nodeID}`;

export function splitKeyState(reader: StoreReader): SplitKeyState | undefined {
  return reader.get<SplitKeyState>(SPLIT_KEY_STATE_KEY)?.value;
}

export function shareRecord(reader: StoreReader, nodeID: number): ShareRecord | undefined {
  return reader.get<ShareRecord>(shareKey(nodeID))?.value;
}

/** What a wrapped share is bound to: its purpose, the cluster, the node, the generation. */
export const shareContext = (clusterUuid: string, nodeID: number, generation: number): string =>
  `split-key-share\0cluster=${clusterUuid}\0node=${nodeID}\0generation=${generation}`;

export function dakCheckValue(dak: Buffer, generation: number): string {
  return createHmac('sha256', dak).update(`ekmd DAK check|${generation}`).digest('hex');
}

export function dakMatches(dak: Buffer, state: SplitKeyState): boolean {
  const expected = Buffer.from(state.keyCheckValue, 'hex');
  const actual = Buffer.from(dakCheckValue(dak, state.generation), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
