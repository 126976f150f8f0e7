// The node records on the embedded store: CreateCluster makes this node node 1 (Element's
// Node shape), it is elected master, AddNodes activates pending nodes with new nodeIDs,
// RemoveNodes refuses what Element refuses and changes nothing then.
import t, { type Test } from 'tap';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClusterService } from '../../../src/cluster/cluster-info';
import { putDrive } from '../../../src/cluster/drives/drive-records';
import { ElementError } from '../../../src/cluster/errors';
import { nodeIdentity } from '../../../src/cluster/nodes/node-identity';
import {
  pendingNodeKey,
  type NodeIdentity,
  type PendingNodeRecord,
} from '../../../src/cluster/nodes/node-records';
import { NodeService } from '../../../src/cluster/nodes/node-service';
import { openSqliteStore, type Json } from '../../../src/store';
import { tempDir } from '../../store/tmpdir';
import { until } from '../../helpers/until';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const CREATE = {
  acceptEula: true,
  mvip: '10.0.0.10',
  svip: '10.0.1.10',
  nodes: ['10.0.1.11'],
  username: 'admin',
  password: 'a long enough password',
};

async function node(t: Test, dir = tempDir(t), settings = { name: 'node-a', ip: '10.0.0.11' }) {
  const store = await openSqliteStore(join(dir, 'ekmd.db'));
  const self = nodeIdentity(dir, settings);
  const nodes = new NodeService(store, self);
  await nodes.start();
  const cluster = new ClusterService(store, { nodes });
  t.teardown(async () => {
    await nodes.close();
    await store.close();
  });
  return { dir, store, self, nodes, cluster };
}

async function errorOf(fn: () => unknown): Promise<ElementError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ElementError) return err;
    throw err;
  }
  throw new Error('expected an ElementError');
}

function pending(pendingNodeID: number, name: string): PendingNodeRecord {
  const id: NodeIdentity = {
    ...nodeIdentity(undefined, { name, ip: `10.0.0.${20 + pendingNodeID}` }),
  };
  return { ...id, uuid: randomUUID(), pendingNodeID };
}

t.test(
  'CreateCluster makes this node node 1, in Element shape, and elects it master',
  async (t) => {
    const { dir, nodes, cluster, self } = await node(t);
    t.same(nodes.active(), [], 'no nodes before CreateCluster');
    t.equal((await errorOf(() => nodes.masterNodeID())).elementName, 'xClusterNotCreated');
    const uuid = JSON.parse(readFileSync(join(dir, 'node.json'), 'utf8')).uuid as string;
    t.match(uuid, UUID, 'the identity file holds a UUIDv4');
    t.equal(self.uuid, uuid);

    await cluster.create(CREATE);
    const [n, ...rest] = nodes.active();
    t.same(rest, []);
    t.match(n, {
      nodeID: 1,
      name: 'node-a',
      mip: '10.0.0.11',
      cip: '10.0.1.11',
      sip: '10.0.1.11',
      uuid,
      role: 'Storage',
      maintenanceMode: 'Disabled',
      virtualNetworks: [],
      platformInfo: { nodeType: 'ekmd', containerized: false },
    });
    for (const member of ['associatedMasterServiceID', 'associatedFServiceID', 'softwareVersion']) {
      t.ok(member in n!, `Node.${member} present`);
    }
    await until('node 1 elected master', () => nodes.isMaster());
    t.equal(nodes.masterNodeID(), 1);
  },
);

t.test('the same stateDir is the same node across restarts; a changed name follows', async (t) => {
  const dir = tempDir(t);
  const first = await node(t, dir);
  await first.cluster.create(CREATE);
  await first.nodes.close();
  await first.store.close();
  const again = await node(t, dir, { name: 'renamed', ip: '10.0.0.12' });
  t.equal(again.self.uuid, first.self.uuid);
  t.match(again.nodes.active(), [{ nodeID: 1, name: 'renamed', mip: '10.0.0.12' }]);
  await until('master again', () => again.nodes.isMaster());
});

t.test('a cluster created before node records gets this node as node 1 at start', async (t) => {
  const dir = tempDir(t);
  const store = await openSqliteStore(join(dir, 'ekmd.db'));
  await new ClusterService(store).create(CREATE); // no node records, as older releases
  t.equal(store.list('nodes/active/').length, 0);
  await store.close();
  const { nodes } = await node(t, dir);
  t.match(nodes.active(), [{ nodeID: 1, cip: '10.0.1.11' }]);
});

t.test('AddNodes activates pending nodes with nodeIDs never reused', async (t) => {
  const { store, nodes, cluster } = await node(t);
  t.equal((await errorOf(() => nodes.add([1]))).elementName, 'xClusterNotCreated');
  await cluster.create(CREATE);
  const lease = await store.grantLease(5);
  const b = pending(1, 'node-b');
  const c = pending(2, 'node-c');
  await lease.put(pendingNodeKey(b.uuid), b as unknown as Json);
  await lease.put(pendingNodeKey(c.uuid), c as unknown as Json);
  t.match(nodes.pending(), [
    { pendingNodeID: 1, name: 'node-b', assignedNodeID: 0, compatible: true },
    { pendingNodeID: 2, name: 'node-c' },
  ]);

  const before = store.revision();
  t.equal((await errorOf(() => nodes.add([1, 9]))).elementName, 'xPendingNodeIDDoesNotExist');
  t.equal(store.revision(), before, 'an unknown pending node: nothing added');

  t.same(await nodes.add([1]), [{ pendingNodeID: 1, nodeID: 2, assignedNodeID: 2, mip: b.mip }]);
  t.match(nodes.pending(), [{ pendingNodeID: 2 }], 'node-b is no longer pending');
  t.match(
    nodes.active().map((n) => [n.nodeID, n.name, n.uuid]),
    [
      [1, 'node-a'],
      [2, 'node-b', b.uuid],
    ],
  );
  await nodes.remove([2]);
  t.same(
    (await nodes.add([2])).map((a) => a.nodeID),
    [3],
    'a removed nodeID is not handed out again',
  );
});

t.test('RemoveNodes refuses an unknown node, one with drives in use, and every node', async (t) => {
  const { store, nodes, cluster } = await node(t);
  await cluster.create(CREATE);
  t.equal((await errorOf(() => nodes.remove([7]))).elementName, 'xNodeIDDoesNotExist');
  t.equal((await errorOf(() => nodes.remove([1]))).elementName, 'xEnsembleInvalidSize');
  await store.transaction((tx) =>
    putDrive(tx, {
      driveID: 1,
      serial: 'S1',
      path: 'sim:0',
      model: 'm',
      capacity: 1e12,
      slot: 0,
      present: true,
      opal: true,
      status: 'active',
      type: 'block',
      security: 'none',
      step: null,
    } as never),
  );
  const err = await errorOf(() => nodes.remove([1]));
  t.equal(err.elementName, 'xNodeHasActiveDrives');
  t.match(err.message, /Node ID 1 still has 1 drive/);
  t.equal(nodes.active().length, 1, 'nothing removed');
});

t.test('without a stateDir the identity is stable for the host and writes no file', async (t) => {
  const a = nodeIdentity(undefined);
  const b = nodeIdentity(undefined);
  t.equal(a.uuid, b.uuid);
  t.match(a.uuid, UUID);
  t.notOk(existsSync(join(process.cwd(), 'node.json')));
});
