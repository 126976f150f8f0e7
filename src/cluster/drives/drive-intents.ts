// Requests for another node's drives, recorded in the store for that node to carry out (the
// controller pattern): any node's API records the intent with its async result in one
// transaction; the owning node's drive service watches its intents, takes each in one
// transaction (checking the drives again, all or none) and records the outcome in the async
// result, which every node's GetAsyncResult reads. Only SecureEraseDrives goes this way so far.
import type { Json, StoreReader, StoreTx } from '../../store/store';
import { ElementError } from '../errors';
import { activeNodeKey, aliveKey } from '../nodes/node-records';

export const INTENT_PREFIX = 'drives/intents/';

export interface EraseIntent {
  kind: 'secureErase';
  /** The node that holds the drives and carries the request out. */
  nodeID: number;
  driveIDs: number[];
  asyncHandle: number;
  /** The node whose API took the request (undefined: one outside the cluster's records). */
  requestedBy: number | null;
}

export const intentKey = (nodeID: number, asyncHandle: number): string =>
  `${INTENT_PREFIX}${nodeID}/${asyncHandle}`;

export function putIntent(tx: StoreTx, intent: EraseIntent): void {
  tx.put(intentKey(intent.nodeID, intent.asyncHandle), intent as unknown as Json);
}

/** The intents waiting for `nodeID`, oldest first. */
export function intentsFor(reader: StoreReader, nodeID: number): EraseIntent[] {
  return reader
    .list<EraseIntent>(`${INTENT_PREFIX}${nodeID}/`)
    .map((e) => e.value)
    .sort((a, b) => a.asyncHandle - b.asyncHandle);
}

/**
 * Refuses a request for a node that could not carry it out now: one no longer in the
 * cluster, or one whose session (its alive key) is gone. Nothing is recorded then.
 */
export function requireOnline(reader: StoreReader, nodeID: number, driveIDs: number[]): void {
  const drives = `drive(s) ${driveIDs.join(', ')}`;
  if (!reader.get(activeNodeKey(nodeID))) {
    throw new ElementError(
      'xNodeIDDoesNotExist',
      `Node ID ${nodeID}, which holds ${drives}, is not in the cluster; nothing was changed.`,
    );
  }
  if (!reader.get(aliveKey(nodeID))) {
    throw new ElementError(
      'xNodeOffline',
      `Node ID ${nodeID}, which holds ${drives}, is offline; nothing was changed. Call again once it is back.`,
    );
  }
}
