// Element's node methods (SolidFire SDK: ListActiveNodes, ListAllNodes, ListPendingNodes,
// AddNodes, RemoveNodes, GetClusterMasterNodeID), with the SDK's member names.
import { bool, defineMethod, id, noParams } from '../method';

const nodeIDs = { type: 'array', items: id, minItems: 1, maxItems: 100 };

export const nodeMethods = [
  defineMethod({
    name: 'ListActiveNodes',
    params: noParams,
    handler: (_p, { nodes }) => ({ nodes: nodes.active() }),
  }),
  defineMethod({
    name: 'ListPendingNodes',
    params: noParams,
    handler: (_p, { nodes }) => ({ pendingNodes: nodes.pending() }),
  }),
  defineMethod({
    name: 'ListAllNodes',
    params: noParams,
    handler: (_p, { nodes }) => ({
      nodes: nodes.active(),
      pendingNodes: nodes.pending(),
      pendingActiveNodes: [],
    }),
  }),
  defineMethod({
    name: 'GetClusterMasterNodeID',
    params: noParams,
    handler: (_p, { nodes }) => ({ nodeID: nodes.masterNodeID() }),
  }),
  defineMethod<{ pendingNodes: number[]; autoInstall?: boolean }>({
    name: 'AddNodes',
    params: {
      type: 'object',
      properties: { pendingNodes: nodeIDs, autoInstall: bool },
      required: ['pendingNodes'],
    },
    handler: async (p, { nodes }) => ({
      autoInstall: p.autoInstall ?? false,
      nodes: await nodes.add(p.pendingNodes),
    }),
  }),
  defineMethod<{ nodes: number[]; ignoreEnsembleToleranceChange?: boolean }>({
    name: 'RemoveNodes',
    params: {
      type: 'object',
      properties: { nodes: nodeIDs, ignoreEnsembleToleranceChange: bool },
      required: ['nodes'],
    },
    handler: async (p, { nodes }) => {
      await nodes.remove(p.nodes);
      return {};
    },
  }),
];
