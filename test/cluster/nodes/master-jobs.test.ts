// Master-only jobs on two nodes sharing one etcd prefix, each running the daemon's
// key-server certificate check through NodeService.whileMaster: only the master runs it
// (one fault, raised by the master); when the master stops, the node elected after it
// starts the check and follows a replaced certificate. A job of a node that is not master
// writes nothing.
import t from 'tap';
import { startEtcd } from '../../../scripts/etcd/members';
import { watchKeyServerCertificates } from '../../../src/cluster/boot-unlock/certificate-check';
import { ClusterService } from '../../../src/cluster/cluster-info';
import { FaultService, readFaults } from '../../../src/cluster/faults';
import {
  providerKey,
  serverKey,
  type KeyServerRecord,
} from '../../../src/cluster/key-servers/kmip-records';
import { fencedStore } from '../../../src/cluster/nodes/fenced-store';
import { NotMasterError, type MasterFence } from '../../../src/cluster/nodes/master-fence';
import { nodeIdentity } from '../../../src/cluster/nodes/node-identity';
import { pendingNodeKey, type PendingNodeRecord } from '../../../src/cluster/nodes/node-records';
import { NodeService } from '../../../src/cluster/nodes/node-service';
import type { Json, Store } from '../../../src/store';
import { makeCa } from '../pki';
import { tempDir } from '../../store/tmpdir';
import { client, etcdBackend } from '../../store/contract/backends';
import { until } from '../../helpers/until';

const TTL = 2;

const server = (client: string): KeyServerRecord => ({
  keyServerID: 1,
  keyProviderID: 1,
  kmipKeyServerName: 'eks-1',
  kmipKeyServerHostnames: ['127.0.0.1'],
  kmipKeyServerPort: 5696,
  kmipCaCertificate: makeCa('eks-ca', 365).certPem,
  kmipClientCertificate: client,
});

void (async () => {
  const cluster = await startEtcd(t);
  const backend = etcdBackend(cluster.endpoints);

  t.test('certificate checks run on the master only, and move with it', async (t) => {
    const location = backend.fresh(t);
    const stores = [await client(t, location), await client(t, location)];
    const faults = stores.map((s) => new FaultService(s));
    t.teardown(() => faults.forEach((f) => f.close()));
    const ids = [
      nodeIdentity(tempDir(t), { name: 'a', ip: '10.0.0.1' }),
      nodeIdentity(tempDir(t), { name: 'b', ip: '10.0.0.2' }),
    ];
    const nodes = stores.map(
      (s, i) => new NodeService(s, ids[i]!, { faults: faults[i]!, leaseTtlSeconds: TTL }),
    );
    t.teardown(() => Promise.all(nodes.map((n) => n.close())));
    /** Which node's check ran, in order; and the fences they were given. */
    const runs: number[] = [];
    const fences: MasterFence[] = [];
    nodes.forEach((n, i) =>
      n.whileMaster((fence) => {
        runs.push(i + 1);
        fences[i] = fence;
        return watchKeyServerCertificates(fencedStore(fence), faults[i]!);
      }),
    );
    const [a, b] = nodes as [NodeService, NodeService];
    const [storeA, storeB] = stores as [Store, Store];
    await a.start();
    await new ClusterService(storeA, { nodes: a }).create({
      acceptEula: true,
      mvip: '10.0.0.10',
      svip: '10.0.1.10',
      nodes: ['10.0.1.1'],
      username: 'admin',
      password: 'a long enough password',
    });
    const pendingLease = await storeB.grantLease(TTL);
    const pending: PendingNodeRecord = { ...ids[1]!, pendingNodeID: 1 };
    await pendingLease.put(pendingNodeKey(ids[1]!.uuid), pending as unknown as Json);
    await until('node 1 sees node 2 pending', () => a.pending().length === 1);
    await a.add([1]);
    await pendingLease.revoke();
    await until('node 2 sees itself added', () => b.selfRecord() !== undefined);
    await b.start();
    t.ok(a.isMaster(), 'node 1 is master');
    t.notOk(b.isMaster(), 'node 2 follows');
    t.same(runs, [1], 'the check runs on the master only');

    // A key server of an active provider whose client certificate expires in 10 days.
    await storeA.transaction((tx) => {
      tx.put(providerKey(1), { keyProviderID: 1, keyProviderName: 'p' });
      tx.put('keys/k1', { keyID: 'k1', keyProviderID: 1, state: 'live' });
      tx.put(serverKey(1), server(makeCa('storage-node-1', 10).certPem) as unknown as Json);
    });
    const current = (s: Store) =>
      readFaults(s, 'current').filter((f) => f.code === 'kmipCertificateFault');
    await until('the master raises kmipCertificateFault', () => current(storeB).length === 1);

    const stoppedAt = Date.now();
    await a.close();
    await until('node 2 is master', () => b.isMaster(), 10_000);
    t.comment(`node 2 master ${Date.now() - stoppedAt} ms after node 1 stopped`);
    t.same(runs, [1, 2], 'the new master starts the check');
    // Node 1 is no longer master: what its job would write is refused.
    await t.rejects(
      fencedStore(fences[0]!).transaction((tx) => tx.put('jobs/x', 1)),
      NotMasterError,
    );
    t.equal(storeB.get('jobs/x'), undefined, 'nothing written by the old master');

    // The new master follows key server changes: a replaced certificate resolves the fault.
    await storeB.transaction((tx) =>
      tx.put(serverKey(1), server(makeCa('storage-node-1', 365).certPem) as unknown as Json),
    );
    await until('node 2 resolves the fault', () => current(storeB).length === 0);
    t.equal(
      readFaults(storeB, 'all').filter((f) => f.code === 'kmipCertificateFault').length,
      1,
      'one fault in all, raised by one master and resolved by the next',
    );
  });
})();
