// Two nodes on one etcd prefix: node 1 creates the cluster and is master, node 2 joins
// through AddNodes. When node 2 stops, the master raises nodeOffline (type node, its nodeID)
// once node 2's session lease is gone and the grace has passed; node 2 back resolves it,
// and so does RemoveNodes of an offline node.
import t from 'tap';
import { startEtcd } from '../../../scripts/etcd/members';
import { ClusterService } from '../../../src/cluster/cluster-info';
import { FaultService, readFaults } from '../../../src/cluster/faults';
import { nodeIdentity } from '../../../src/cluster/nodes/node-identity';
import { pendingNodeKey, type PendingNodeRecord } from '../../../src/cluster/nodes/node-records';
import { NodeService } from '../../../src/cluster/nodes/node-service';
import type { Json, Store } from '../../../src/store';
import { tempDir } from '../../store/tmpdir';
import { client, etcdBackend } from '../../store/contract/backends';
import { until } from '../../helpers/until';

const TTL = 2;

const offline = (store: Store) =>
  readFaults(store, 'current').filter((f) => f.code === 'nodeOffline');

void (async () => {
  const cluster = await startEtcd(t);
  const backend = etcdBackend(cluster.endpoints);

  t.test('nodeOffline raised for a stopped node and resolved when it is back', async (t) => {
    const location = backend.fresh(t);
    const [storeA, storeB] = [await client(t, location), await client(t, location)];
    const faultsA = new FaultService(storeA);
    const a = new NodeService(storeA, nodeIdentity(tempDir(t), { name: 'a', ip: '10.0.0.1' }), {
      faults: faultsA,
      leaseTtlSeconds: TTL,
    });
    const idB = nodeIdentity(tempDir(t), { name: 'b', ip: '10.0.0.2' });
    const startB = async () => {
      const b = new NodeService(storeB, idB, {
        faults: new FaultService(storeB),
        leaseTtlSeconds: TTL,
      });
      await b.start();
      return b;
    };
    await a.start();
    await new ClusterService(storeA, { nodes: a }).create({
      acceptEula: true,
      mvip: '10.0.0.10',
      svip: '10.0.1.10',
      nodes: ['10.0.1.1'],
      username: 'admin',
      password: 'a long enough password',
    });
    t.ok(a.isMaster(), 'node 1 is master');
    // Node 2 registers as pending (as a joining node would) and is added through node 1.
    const pendingLease = await storeB.grantLease(TTL);
    const pending: PendingNodeRecord = { ...idB, pendingNodeID: 1 };
    await pendingLease.put(pendingNodeKey(idB.uuid), pending as unknown as Json);
    await until('node 1 sees it pending', () => a.pending().length === 1);
    t.match(await a.add([1]), [{ nodeID: 2 }]);
    await pendingLease.revoke();

    let b = await startB();
    t.notOk(b.isMaster(), 'node 2 follows');
    await until('node 2 alive in node 1 view', () => storeA.get('nodes/alive/2') !== undefined);
    await new Promise((r) => setTimeout(r, 2 * TTL * 1000 + 500));
    t.same(offline(storeA), [], 'no fault while node 2 runs');

    const stoppedAt = Date.now();
    await b.close();
    await until('nodeOffline raised', () => offline(storeA).length === 1);
    t.comment(`nodeOffline ${Date.now() - stoppedAt} ms after node 2 stopped (lease TTL ${TTL} s)`);
    t.match(offline(storeA)[0], {
      code: 'nodeOffline',
      type: 'node',
      nodeID: 2,
      severity: 'error',
      details: 'Node ID 2 is offline.',
    });

    b = await startB();
    await until('nodeOffline resolved', () => offline(storeA).length === 0);
    t.match(
      readFaults(storeA, 'resolved').filter((f) => f.code === 'nodeOffline'),
      [{ nodeID: 2, resolved: true }],
    );
    await b.close();
    await until('offline again', () => offline(storeA).length === 1);
    await a.remove([2]);
    t.same(offline(storeA), [], 'a removed node is not offline: resolved');
    t.same(
      a.active().map((n) => n.nodeID),
      [1],
    );
    await a.close();
    faultsA.close();
  });
})();
