// ListDrives, AddDrives, RemoveDrives, SecureEraseDrives (Element §7). All but ListDrives
// are asynchronous: they answer an asyncHandle for GetAsyncResult (resultType DriveAdd,
// DriveRemoval, DriveSecureErase).
import type { AddDriveParam, DriveService } from '../../cluster/drives/drives';
import { defineMethod, id, noParams, type ApiMethod } from '../method';

const driveIDs = { type: 'array', items: id, minItems: 1, maxItems: 1024 };

export function driveMethods(drives: DriveService): ApiMethod[] {
  return [
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
      handler: (p) => ({ asyncHandle: drives.add(p.drives) }),
    }),
    defineMethod<{ drives: number[] }>({
      name: 'RemoveDrives',
      params: { type: 'object', properties: { drives: driveIDs }, required: ['drives'] },
      handler: (p) => ({ asyncHandle: drives.remove(p.drives) }),
    }),
    defineMethod<{ drives: number[] }>({
      name: 'SecureEraseDrives',
      params: { type: 'object', properties: { drives: driveIDs }, required: ['drives'] },
      handler: (p) => ({ asyncHandle: drives.secureErase(p.drives) }),
    }),
  ];
}
