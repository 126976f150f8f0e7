// ListDrives, AddDrives, RemoveDrives, SecureEraseDrives (Element §7). All but ListDrives
// are asynchronous: they answer an asyncHandle for GetAsyncResult (resultType DriveAdd,
// DriveRemoval, DriveSecureErase). RetryDriveUnlock is ekmd's own (not Element's): the
// operator's release of the TryLimit guard, followed by an unlock round. Any node's API
// takes any node's drives (another node's are recorded for it: cluster/drives/drive-intents).
import type { AddDriveParam, DriveService } from '../../cluster/drives/drives';
import { defineMethod, id, noParams, type ApiMethod } from '../method';

const driveIDs = { type: 'array', items: id, minItems: 1, maxItems: 1024 };

/** `unlock`: whether the node runs boot unlock (RetryDriveUnlock is offered then). */
export function driveMethods(drives: DriveService, unlock = false): ApiMethod[] {
  return [
    ...(unlock ? [retryDriveUnlock(drives)] : []),
    defineMethod({
      name: 'ListDrives',
      params: noParams,
      handler: () => ({ drives: drives.list() }),
    }),
    defineMethod<{ drives: AddDriveParam[] }>({
      name: 'AddDrives',
      params: {
        type: 'object',
        properties: {
          drives: {
            type: 'array',
            minItems: 1,
            maxItems: 1024,
            items: {
              type: 'object',
              properties: { driveID: id, type: { enum: ['slice', 'block', 'volume'] } },
              required: ['driveID'],
            },
          },
        },
        required: ['drives'],
      },
      handler: async (p) => ({ asyncHandle: await drives.add(p.drives) }),
    }),
    defineMethod<{ drives: number[] }>({
      name: 'RemoveDrives',
      params: { type: 'object', properties: { drives: driveIDs }, required: ['drives'] },
      handler: async (p) => ({ asyncHandle: await drives.remove(p.drives) }),
    }),
    defineMethod<{ drives: number[] }>({
      name: 'SecureEraseDrives',
      params: { type: 'object', properties: { drives: driveIDs }, required: ['drives'] },
      handler: async (p) => ({ asyncHandle: await drives.secureErase(p.drives) }),
    }),
  ];
}

/**
 * RetryDriveUnlock {driveIDs?}: forget the drives' refused keys (every drive of this node
 * when none are named) and run an unlock round now. Answers the drives whose guard was
 * released, or, for another node's drives, the asyncHandle of that node's release and round
 * (resultType DriveUnlockRetry); the round's outcome shows in ListDrives and ListClusterFaults.
 */
function retryDriveUnlock(drives: DriveService): ApiMethod {
  return defineMethod<{ driveIDs?: number[] }>({
    name: 'RetryDriveUnlock',
    params: { type: 'object', properties: { driveIDs } },
    handler: (p) => drives.retryUnlock(p.driveIDs),
  });
}
