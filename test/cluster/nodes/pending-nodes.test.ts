// Nodes joining one cluster on a real etcd: a node that is not in the cluster registers as
// pending (under its own lease); CreateCluster with three addresses through node 1 makes the
// two pending nodes active, each keeping its nodeID in node.json; every node lists the same
// three. A fourth node started later stays pending until AddNodes, and drops out of the list
// when it stops; a removed node is pending again.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEtcd } from '../../../scripts/etcd/members';
import { ClusterService } from '../../../src/cluster/cluster-info';
import { ElementError } from '../../../src/cluster/errors';
import { nodeIdentity } from '../../../src/cluster/nodes/node-identity';
import { NodeService } from '../../../src/cluster/nodes/node-service';
import type { Store } from '../../../src/store';
import { tempDir } from '../../store/tmpdir';
import { client, etcdBackend, type Location } from '../../store/contract/backends';
import { until } from '../../helpers/until';

const TTL = 2;

async function errorOf(fn: () => unknown): Promise<ElementError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ElementError) return err;
    throw err;
  }
  throw new Error('expected an ElementError');
}

interface TestNode {
  dir: string;
  store: Store;
  nodes: NodeService;
  cluster: ClusterService;
}

async function startNode(t: Test, location: Location, n: number): Promise<TestNode> {
  const dir = tempDir(t);
  const store = await client(t, location);
  const self = nodeIdentity(dir, { name: `node-${n}`, ip: `10.0.0.${n}` });
  const nodes = new NodeService(store, self, { leaseTtlSeconds: TTL, stateDir: dir });
  t.teardown(() => nodes.close());
  await nodes.start();
  return { dir, store, nodes, cluster: new ClusterService(store, { nodes }) };
}

const localNodeID = (node: TestNode): unknown =>
  (JSON.parse(readFileSync(join(node.dir, 'node.json'), 'utf8')) as { nodeID?: unknown }).nodeID;

const create = (nodes: string[]) => ({
  acceptEula: true,
  mvip: '10.0.0.100',
  svip: '10.0.1.100',
  nodes,
  username: 'admin',
  password: 'a long enough password',
});

const names = (list: { [k: string]: unknown }[]) => list.map((n) => [n.nodeID, n.name]);

void (async () => {
  const etcd = await startEtcd(t);
  const backend = etcdBackend(etcd.endpoints);

  t.test('CreateCluster with three nodes; a later node is pending until AddNodes', async (t) => {
    const location = backend.fresh(t);
    const [n1, n2, n3] = [
      await startNode(t, location, 1),
      await startNode(t, location, 2),
      await startNode(t, location, 3),
    ];
    await until('three pending nodes', () => n1.nodes.pending().length === 3);
    const ids = n1.nodes.pending().map((p) => p.pendingNodeID as number);
    t.equal(new Set(ids).size, 3, 'each pending node has its own pendingNodeID');

    const before = n1.store.revision();
    const refused = await errorOf(() => n1.cluster.create(create(['10.0.0.1', '10.0.0.9'])));
    t.equal(refused.elementName, 'xPendingNodeAddressDoesNotExist');
    t.match(refused.message, /10\.0\.0\.9/);
    t.equal(n1.store.revision(), before, 'an address no pending node has: nothing written');
    t.same(n1.nodes.active(), []);

    await n1.cluster.create(create(['10.0.0.1', '10.0.0.2', '10.0.0.3']));
    const three = [
      [1, 'node-1'],
      [2, 'node-2'],
      [3, 'node-3'],
    ];
    t.same(names(n1.nodes.active()), three, 'node 1 lists the three nodes');
    for (const n of [n2, n3]) {
      await until('the node sees itself active', () => n.nodes.active().length === 3);
      t.same(names(n.nodes.active()), three, 'another node lists the same three');
    }
    await until('no pending node left', () => n1.nodes.pending().length === 0);
    await until('nodeIDs kept locally', () => localNodeID(n2) === 2 && localNodeID(n3) === 3);
    t.equal(localNodeID(n1), 1);
    await until('a master elected, seen by all', () =>
      [n1, n3].every((n) => n.store.get('nodes/master') !== undefined),
    );
    const master = n1.nodes.masterNodeID();
    t.ok([1, 2, 3].includes(master), 'one of the three is master');
    t.equal(n3.nodes.masterNodeID(), master, 'and every node names the same');
    await until('node 2 and 3 alive', () => n1.store.list('nodes/alive/').length === 3);

    const n4 = await startNode(t, location, 4);
    // Each node's view follows etcd's watch on its own: wait until all three have it.
    await until('node 4 pending, seen by nodes 1 to 3', () =>
      [n1, n2, n3].every((n) => n.nodes.pending().length === 1),
    );
    const [p4] = n2.nodes.pending();
    t.match(p4, { name: 'node-4', mip: '10.0.0.4', assignedNodeID: 0 });
    t.ok((p4!.pendingNodeID as number) > Math.max(...ids), 'pendingNodeIDs are not reused');
    t.equal(localNodeID(n4), undefined, 'a pending node keeps no nodeID');
    t.same(await n3.nodes.add([p4!.pendingNodeID as number]), [
      { pendingNodeID: p4!.pendingNodeID, nodeID: 4, assignedNodeID: 4, mip: '10.0.0.4' },
    ]);
    await until('node 4 joined', () => localNodeID(n4) === 4 && n4.nodes.active().length === 4);
    await until('node 4 alive', () => n1.store.get('nodes/alive/4') !== undefined);

    await n1.nodes.remove([3]);
    await until('node 3 pending again', () => n1.nodes.pending().length === 1);
    t.match(n1.nodes.pending(), [{ name: 'node-3' }]);
    await until('node 3 forgot its nodeID', () => localNodeID(n3) === undefined);
    await until('node 3 no longer alive', () => n1.store.get('nodes/alive/3') === undefined);
    await until('node 4 sees node 3 removed', () => n4.nodes.active().length === 3);
    t.same(
      n4.nodes.active().map((n) => n.nodeID),
      [1, 2, 4],
    );
  });

  t.test('a pending node that stops drops out of the list', async (t) => {
    const location = backend.fresh(t);
    const n1 = await startNode(t, location, 1);
    await n1.cluster.create(create(['10.0.0.1']));
    const n2 = await startNode(t, location, 2);
    await until('node 2 pending', () => n1.nodes.pending().length === 1);
    await n2.nodes.close();
    await until('node 2 gone from the list', () => n1.nodes.pending().length === 0);
    t.equal((await errorOf(() => n1.nodes.add([1]))).elementName, 'xPendingNodeIDDoesNotExist');
    t.same(names(n1.nodes.active()), [[1, 'node-1']]);
  });
})();
