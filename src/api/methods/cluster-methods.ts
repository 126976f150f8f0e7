// CreateCluster and GetClusterInfo.
import type { CreateClusterParams } from '../../cluster/cluster-info';
import { bool, defineMethod, noParams, text } from '../method';

const ip = text(64);

export const clusterMethods = [
  defineMethod<CreateClusterParams>({
    name: 'CreateCluster',
    params: {
      type: 'object',
      properties: {
        acceptEula: bool,
        mvip: ip,
        svip: ip,
        nodes: { type: 'array', minItems: 1, items: ip },
        username: text(255),
        password: text(1024),
        enableSoftwareEncryptionAtRest: bool,
        attributes: { type: 'object' },
        serialNumber: text(255),
        orderNumber: text(255),
      },
      required: ['acceptEula', 'mvip', 'svip', 'nodes', 'username', 'password'],
    },
    handler: async (params, { cluster }) => {
      await cluster.create(params);
      return {};
    },
  }),
  defineMethod({
    name: 'GetClusterInfo',
    params: noParams,
    handler: (_params, { cluster }) => ({ clusterInfo: cluster.info() }),
  }),
];
