// Element's node methods over the API, as the SDK calls them: before CreateCluster no nodes;
// after it node 1 with every member the SDK's Node model reads, elected master; AddNodes and
// RemoveNodes refuse what Element refuses and change nothing then.
import t from 'tap';
import { ContactRecorder } from './fixtures';
import { startNode } from './node';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const NODE_MEMBERS = [
  'nodeID',
  'associatedMasterServiceID',
  'associatedFServiceID',
  'name',
  'platformInfo',
  'role',
  'softwareVersion',
  'cip',
  'cipi',
  'mip',
  'mipi',
  'sip',
  'sipi',
  'uuid',
  'virtualNetworks',
  'attributes',
  'chassisName',
  'customProtectionDomainName',
  'maintenanceMode',
];

t.test('node methods', async (t) => {
  const node = await startNode(t, new ContactRecorder());

  t.test('before CreateCluster: no nodes, no master', async (t) => {
    t.same((await node.client.ok('ListActiveNodes')).nodes, []);
    t.same(await node.client.ok('ListAllNodes'), {
      nodes: [],
      pendingNodes: [],
      pendingActiveNodes: [],
    });
    t.equal((await node.client.call('GetClusterMasterNodeID')).error?.name, 'xClusterNotCreated');
  });

  t.test('after CreateCluster: node 1, master', async (t) => {
    await node.client.ok('CreateCluster', {
      acceptEula: true,
      mvip: '10.0.0.10',
      svip: '10.0.1.10',
      nodes: ['10.0.1.1'],
      username: 'admin',
      password: 'cluster-admin-pw',
    });
    node.client.username = 'admin';
    node.client.password = 'cluster-admin-pw';
    const { nodes } = await node.client.ok('ListActiveNodes');
    t.equal(nodes.length, 1);
    const [n] = nodes;
    for (const member of NODE_MEMBERS) t.ok(member in n, `Node.${member}`);
    t.match(n, { nodeID: 1, name: 'node-1', cip: '10.0.1.1', sip: '10.0.1.1' });
    t.match(n.uuid, UUID_V4, 'the SDK parses uuid as a UUID');
    t.equal(n.maintenanceMode, 'Disabled', 'one of the SDK enum values');
    for (const member of ['nodeType', 'chassisType', 'cpuModel', 'nodeMemoryGB']) {
      t.ok(member in n.platformInfo, `Platform.${member}`);
    }
    t.same((await node.client.ok('ListPendingNodes')).pendingNodes, []);
    t.same(await node.client.ok('GetClusterMasterNodeID'), { nodeID: 1 });
  });

  t.test('AddNodes and RemoveNodes refuse and change nothing', async (t) => {
    const before = node.snapshot();
    const cases: [string, Record<string, unknown>, string][] = [
      ['AddNodes', {}, 'xMissingParameter'],
      ['AddNodes', { pendingNodes: [] }, 'xInvalidParameter'],
      ['AddNodes', { pendingNodes: ['1'] }, 'xInvalidParameter'],
      ['AddNodes', { pendingNodes: [4] }, 'xPendingNodeIDDoesNotExist'],
      ['RemoveNodes', {}, 'xMissingParameter'],
      ['RemoveNodes', { nodes: [0] }, 'xInvalidParameter'],
      ['RemoveNodes', { nodes: [2] }, 'xNodeIDDoesNotExist'],
      ['RemoveNodes', { nodes: [1] }, 'xEnsembleInvalidSize'],
    ];
    for (const [method, params, name] of cases) {
      t.equal(
        (await node.client.call(method, params)).error?.name,
        name,
        `${method} ${JSON.stringify(params)}`,
      );
    }
    t.ok(node.snapshot() === before, 'the store is unchanged');
  });

  t.test('a restart keeps node 1 and elects it again', async (t) => {
    const uuid = (await node.client.ok('ListActiveNodes')).nodes[0].uuid;
    await node.restart();
    const { nodes } = await node.client.ok('ListActiveNodes');
    t.match(nodes, [{ nodeID: 1, uuid }]);
    t.same(await node.client.ok('GetClusterMasterNodeID'), { nodeID: 1 });
  });
});
