// `ekmctl nodes list|add|remove`: the cluster's nodes (ListAllNodes, with the master from
// GetClusterMasterNodeID), AddNodes of pending nodes, RemoveNodes.
import { EXIT_OK } from '../../util/command';
import { json, table } from '../client/output';
import { idArg, runGroup, type Subcommand } from './subcommand';

interface Node {
  nodeID: number;
  name: string;
  mip: string;
  sip: string;
  softwareVersion: string;
}

interface PendingNode {
  pendingNodeID: number;
  name: string;
  mip: string;
  softwareVersion: string;
}

const list: Subcommand = {
  summary: 'list the active and pending nodes, and the cluster master (ListAllNodes)',
  async run(ctx) {
    const api = ctx.api();
    const all = await api.call<{ nodes: Node[]; pendingNodes: PendingNode[] }>('ListAllNodes');
    const master =
      all.nodes.length > 0
        ? (await api.call<{ nodeID: number }>('GetClusterMasterNodeID').catch(() => undefined))
            ?.nodeID
        : undefined;
    if (ctx.json) {
      ctx.out(json({ ...all, masterNodeID: master ?? null }));
      return EXIT_OK;
    }
    ctx.out(
      table(
        ['NODE', 'PENDING', 'NAME', 'MIP', 'SIP', 'VERSION', 'ROLE'],
        [
          ...all.nodes.map((n) => [
            n.nodeID,
            '',
            n.name,
            n.mip,
            n.sip,
            n.softwareVersion,
            n.nodeID === master ? 'master' : '',
          ]),
          ...all.pendingNodes.map((p) => [
            '',
            p.pendingNodeID,
            p.name,
            p.mip,
            '',
            p.softwareVersion,
            'pending',
          ]),
        ],
      ),
    );
    return EXIT_OK;
  },
};

const add: Subcommand = {
  summary: 'add pending nodes to the cluster (AddNodes)',
  args: ['PENDING_NODE_ID...'],
  async run(ctx) {
    const pendingNodes = ctx.args.map((a) => idArg(a, 'pending node ID'));
    const { nodes } = await ctx
      .api()
      .call<{ nodes: { pendingNodeID: number; nodeID: number }[] }>('AddNodes', { pendingNodes });
    ctx.out(
      ctx.json
        ? json(nodes)
        : nodes.map((n) => `pending node ${n.pendingNodeID} is node ${n.nodeID}\n`).join(''),
    );
    return EXIT_OK;
  },
};

const remove: Subcommand = {
  summary: 'remove nodes from the cluster (RemoveNodes; their drives removed first)',
  args: ['NODE_ID...'],
  async run(ctx) {
    const nodes = ctx.args.map((a) => idArg(a, 'node ID'));
    await ctx.api().call('RemoveNodes', { nodes });
    ctx.out(ctx.json ? json({ removed: nodes }) : `removed node(s) ${nodes.join(', ')}\n`);
    return EXIT_OK;
  },
};

export const run = (argv: string[]) =>
  runGroup(
    'nodes',
    "The cluster's nodes: list them (and the master), add pending nodes, remove nodes.",
    { list, add, remove },
    argv,
  );
