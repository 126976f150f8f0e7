// Create/Delete/Get/List/TestKeyProviderKmip, Add/RemoveKeyServer(To|From)ProviderKmip.
import type { KeyProviderFilter } from '../../cluster/key-servers/key-providers';
import { bool, defineMethod, id, text } from '../method';

const byID = {
  type: 'object' as const,
  properties: { keyProviderID: id },
  required: ['keyProviderID'],
};

export const keyProviderMethods = [
  defineMethod<{ keyProviderName: string }>({
    name: 'CreateKeyProviderKmip',
    params: {
      type: 'object',
      properties: { keyProviderName: text(255) },
      required: ['keyProviderName'],
    },
    handler: async (params, { keyProviders }) => ({
      kmipKeyProvider: await keyProviders.create(params.keyProviderName),
    }),
  }),
  defineMethod<{ keyProviderID: number }>({
    name: 'DeleteKeyProviderKmip',
    params: byID,
    handler: async (params, { keyProviders }) => {
      await keyProviders.delete(params.keyProviderID);
      return {};
    },
  }),
  defineMethod<{ keyProviderID: number }>({
    name: 'GetKeyProviderKmip',
    params: byID,
    handler: (params, { keyProviders }) => ({
      kmipKeyProvider: keyProviders.get(params.keyProviderID),
    }),
  }),
  defineMethod<KeyProviderFilter>({
    name: 'ListKeyProvidersKmip',
    params: {
      type: 'object',
      properties: { keyProviderIsActive: bool, kmipKeyProviderHasServerAssigned: bool },
    },
    handler: (params, { keyProviders }) => ({ kmipKeyProviders: keyProviders.list(params) }),
  }),
  defineMethod<{ keyProviderID: number }>({
    name: 'TestKeyProviderKmip',
    params: byID,
    handler: async (params, { keyProviders }) => {
      await keyProviders.test(params.keyProviderID);
      return {};
    },
  }),
  defineMethod<{ keyProviderID: number; keyServerID: number }>({
    name: 'AddKeyServerToProviderKmip',
    params: {
      type: 'object',
      properties: { keyProviderID: id, keyServerID: id },
      required: ['keyProviderID', 'keyServerID'],
    },
    handler: async (params, { keyProviders }) => {
      await keyProviders.addServer(params.keyProviderID, params.keyServerID);
      return {};
    },
  }),
  defineMethod<{ keyServerID: number }>({
    name: 'RemoveKeyServerFromProviderKmip',
    params: { type: 'object', properties: { keyServerID: id }, required: ['keyServerID'] },
    handler: async (params, { keyProviders }) => {
      await keyProviders.removeServer(params.keyServerID);
      return {};
    },
  }),
];
