// EnableEncryptionAtRest, DisableEncryptionAtRest (asynchronous without a handle: poll
// GetClusterInfo.encryptionAtRestState) and GetEncryptionAtRestInfo (SDK 12.3).
// RetryDriveSecurity is ekmd's own (not Element's): the operator's release of drives that
// refused to be taken over, once they have been reverted.
import type { HardwareEarService } from '../../cluster/hardware-ear/hardware-ear';
import { defineMethod, id, noParams, type ApiMethod } from '../method';

export function earMethods(ear: HardwareEarService): ApiMethod[] {
  return [
    defineMethod<{ keyProviderID?: number }>({
      name: 'EnableEncryptionAtRest',
      params: { type: 'object', properties: { keyProviderID: id } },
      handler: async (p) => {
        await ear.enable(p.keyProviderID);
        return {};
      },
    }),
    defineMethod({
      name: 'DisableEncryptionAtRest',
      params: noParams,
      handler: async () => {
        await ear.disable();
        return {};
      },
    }),
    defineMethod<{ driveIDs: number[] }>({
      name: 'RetryDriveSecurity',
      params: {
        type: 'object',
        properties: { driveIDs: { type: 'array', items: id, minItems: 1, maxItems: 1024 } },
        required: ['driveIDs'],
      },
      handler: async (p) => ({ released: await ear.releaseRefused(p.driveIDs) }),
    }),
    defineMethod({
      name: 'GetEncryptionAtRestInfo',
      params: noParams,
      handler: () => ear.info(),
    }),
  ];
}
