// Requests for another node's drives, recorded in the store for that node to carry out (the
// controller pattern): any node's API checks the request against the store and records it as
// the owner's intent with its async result, in one transaction; the owning node's drive
// service watches its intents, takes each in one transaction (checking the drives again, all
// or none) and carries it out as it would a call of its own API, recording the outcome in the
// async result, which every node's GetAsyncResult reads. An intent still in the store has
// not started: a restart of its node leaves its result running and takes it then.
import type { Json, StoreReader, StoreTx } from '../../store/store';
import type { AsyncResultService } from '../async-results/async-results';
import { ElementError } from '../errors';
import { activeNodeKey, aliveKey } from '../nodes/node-records';

export const INTENT_PREFIX = 'drives/intents/';

export interface AddDriveParam {
  driveID: number;
  type?: 'slice' | 'block' | 'volume';
}

/** A drive method's request, as its node carries it out (drive-calls.ts). */
export type DriveRequest =
  /** AddDrives, with each drive's requested type (the owner's config decides when absent). */
  | { kind: 'addDrives'; driveIDs: number[]; drives: AddDriveParam[] }
  | { kind: 'secureErase' | 'removeDrives' | 'retryUnlock'; driveIDs: number[] };

export type IntentKind = DriveRequest['kind'];

/** A request recorded for the drives' node. */
export type DriveIntent = DriveRequest & {
  /** The node that holds the drives and carries the request out. */
  nodeID: number;
  asyncHandle: number;
  /** The node whose API took the request (null: one outside the cluster's records). */
  requestedBy: number | null;
};

export const intentKey = (nodeID: number, asyncHandle: number): string =>
  `${INTENT_PREFIX}${nodeID}/${asyncHandle}`;

export function putIntent(tx: StoreTx, intent: DriveIntent): void {
  tx.put(intentKey(intent.nodeID, intent.asyncHandle), intent as unknown as Json);
}

/** Whether the request behind this async result still waits for its node to take it. */
export const intentPending = (reader: StoreReader, nodeID: number, asyncHandle: number): boolean =>
  reader.get(intentKey(nodeID, asyncHandle)) !== undefined;

/** The intents waiting for `nodeID`, oldest first. */
export function intentsFor(reader: StoreReader, nodeID: number): DriveIntent[] {
  return reader
    .list<DriveIntent>(`${INTENT_PREFIX}${nodeID}/`)
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

/**
 * Inside RemoveNodes' commit: the requests still waiting for a removed node, which it will
 * never take, go, and their async results fail saying so (nothing was done to the drives).
 * Returns their async handles.
 */
export function dropIntentsOfRemovedIn(
  tx: StoreTx,
  nodeIDs: number[],
  results: Pick<AsyncResultService, 'fail' | 'isRunning'>,
): number[] {
  const dropped: number[] = [];
  for (const nodeID of nodeIDs) {
    for (const intent of intentsFor(tx, nodeID)) {
      tx.delete(intentKey(nodeID, intent.asyncHandle));
      dropped.push(intent.asyncHandle);
      if (!results.isRunning(tx, intent.asyncHandle)) continue;
      results.fail(tx, intent.asyncHandle, {
        name: 'xNodeIDDoesNotExist',
        message:
          `Node ID ${nodeID}, which holds drive(s) ${intent.driveIDs.join(', ')}, was removed ` +
          'from the cluster before it took this request; nothing was changed.',
        driveIDs: [],
        failedDriveIDs: intent.driveIDs,
      });
    }
  }
  return dropped;
}
