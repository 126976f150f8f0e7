// Create/Modify/Delete/Get/List/TestKeyServerKmip.
import type {
  CreateKeyServerParams,
  KeyServerFilter,
  ModifyKeyServerParams,
} from '../../cluster/key-servers/key-servers';
import { bool, defineMethod, id, text } from '../method';
import { sharedJson } from '../shared-json';

const settings = {
  kmipCaCertificate: text(256 * 1024),
  kmipClientCertificate: text(64 * 1024),
  kmipKeyServerHostnames: {
    type: 'array',
    minItems: 1,
    maxItems: 16,
    items: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[^\\s/@]+$' },
  },
  kmipKeyServerName: text(255),
  kmipKeyServerPort: { type: 'integer', minimum: 1, maximum: 65535 },
};

const byID = {
  type: 'object' as const,
  properties: { keyServerID: id },
  required: ['keyServerID'],
};

export const keyServerMethods = [
  defineMethod<CreateKeyServerParams>({
    name: 'CreateKeyServerKmip',
    params: {
      type: 'object',
      properties: settings,
      required: [
        'kmipCaCertificate',
        'kmipClientCertificate',
        'kmipKeyServerHostnames',
        'kmipKeyServerName',
      ],
    },
    handler: async (params, { keyServers }) => ({ kmipKeyServer: await keyServers.create(params) }),
  }),
  defineMethod<ModifyKeyServerParams>({
    name: 'ModifyKeyServerKmip',
    params: {
      type: 'object',
      properties: { keyServerID: id, ...settings },
      required: ['keyServerID'],
    },
    handler: async (params, { keyServers }) => ({ kmipKeyServer: await keyServers.modify(params) }),
  }),
  defineMethod<{ keyServerID: number }>({
    name: 'DeleteKeyServerKmip',
    params: byID,
    handler: async (params, { keyServers }) => {
      await keyServers.delete(params.keyServerID);
      return {};
    },
  }),
  defineMethod<{ keyServerID: number }>({
    name: 'GetKeyServerKmip',
    params: byID,
    handler: (params, { keyServers }) => ({ kmipKeyServer: keyServers.get(params.keyServerID) }),
  }),
  defineMethod<KeyServerFilter>({
    name: 'ListKeyServersKmip',
    params: {
      type: 'object',
      properties: {
        keyProviderID: id,
        kmipAssignedProviderIsActive: bool,
        kmipHasProviderAssigned: bool,
      },
    },
    // Each server's JSON text is made once and shared by the replies that list it.
    handler: (params, { keyServers }) => ({
      kmipKeyServers: keyServers.list(params).map((view) => sharedJson(view)),
    }),
  }),
  defineMethod<{ keyServerID: number }>({
    name: 'TestKeyServerKmip',
    params: byID,
    handler: async (params, { keyServers }) => {
      await keyServers.test(params.keyServerID);
      return {};
    },
  }),
];
