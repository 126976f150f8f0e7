// EnableEncryptionAtRest, DisableEncryptionAtRest (asynchronous without a handle: poll
// GetClusterInfo.encryptionAtRestState) and GetEncryptionAtRestInfo (SDK 12.3).
import type { HardwareEarService } from '../../cluster/hardware-ear/hardware-ear';
import { defineMethod, id, noParams, type ApiMethod } from '../method';

export function earMethods(ear: HardwareEarService): ApiMethod[] {
  return [
    defineMethod<{ keyProviderID?: number }>({
      name: 'EnableEncryptionAtRest',
      params: { type: 'object', properties: { keyProviderID: id } },
      handler: (p) => {
        ear.enable(p.keyProviderID);
        return {};
      },
    }),
    defineMethod({
      name: 'DisableEncryptionAtRest',
      params: noParams,
      handler: () => {
        ear.disable();
        return {};
      },
    }),
    defineMethod({
      name: 'GetEncryptionAtRestInfo',
      params: noParams,
      handler: () => ear.info(),
    }),
  ];
}
