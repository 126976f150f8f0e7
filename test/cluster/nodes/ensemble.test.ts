// ensembleDegraded on three etcd members: one member killed → the master raises it (type
// cluster, naming that member) while the store still takes writes; the member back → the
// fault resolves. GetClusterInfo's ensemble lists the members' hosts (Element: the ensemble
// nodes' IPs). On SQLite there is no ensemble to report: GetClusterInfo names the cluster's
// node.
import t from 'tap';
import { join } from 'node:path';
import { startEtcd } from '../../../scripts/etcd/members';
import { ClusterService, ensembleHosts } from '../../../src/cluster/cluster-info';
import { FaultService, readFaults } from '../../../src/cluster/faults';
import { nodeIdentity } from '../../../src/cluster/nodes/node-identity';
import { NodeService } from '../../../src/cluster/nodes/node-service';
import { openSqliteStore, type Store } from '../../../src/store';
import { openEtcdStore } from '../../../src/store/etcd';
import { tempDir } from '../../store/tmpdir';
import { until } from '../../helpers/until';

const degraded = (store: Store) =>
  readFaults(store, 'current').filter((f) => f.code === 'ensembleDegraded');

const CREATE = {
  acceptEula: true,
  mvip: '10.0.0.10',
  svip: '10.0.1.10',
  nodes: ['10.0.1.1'],
  username: 'admin',
  password: 'a long enough password',
};

t.test('one member of three down: ensembleDegraded, resolved when it is back', async (t) => {
  const etcd = await startEtcd(t, { members: 3 });
  const store = await openEtcdStore(
    { endpoints: etcd.endpoints, prefix: '/ensemble/' },
    { create: true },
  );
  const faults = new FaultService(store);
  const nodes = new NodeService(store, nodeIdentity(tempDir(t)), {
    faults,
    leaseTtlSeconds: 2,
    ensembleCheckMs: 250,
  });
  t.teardown(async () => {
    await nodes.close();
    faults.close();
    await store.close();
  });
  await nodes.start();
  const clusterService = new ClusterService(store, { nodes });
  await clusterService.create(CREATE);
  t.ok(nodes.isMaster());
  t.same(store.ensembleEndpoints(), etcd.endpoints);
  t.same(
    clusterService.info().ensemble,
    etcd.endpoints.map((e) => new URL(e).hostname),
    "GetClusterInfo's ensemble: the members' hosts",
  );
  t.same(
    (await store.ensemble()).map((m) => m.healthy),
    [true, true, true],
  );
  await new Promise((r) => setTimeout(r, 1000));
  t.same(degraded(store), [], 'no fault while every member is healthy');

  await etcd.kill(1);
  const raisedIn = await until(
    'ensembleDegraded raised',
    () => degraded(store).length === 1,
    30_000,
  );
  t.comment(`raised ${raisedIn} ms after the member was killed`);
  const [fault] = degraded(store);
  t.match(fault, { type: 'cluster', severity: 'error', nodeID: 0 });
  t.match(fault!.details, `2 of 3 ensemble members healthy; unhealthy: ${etcd.endpoints[1]}`);

  await etcd.restart(1);
  await until('resolved', () => degraded(store).length === 0, 30_000);
  t.match(
    readFaults(store, 'resolved').filter((f) => f.code === 'ensembleDegraded'),
    [{ resolved: true }],
  );
});

t.test('an embedded store has no ensemble', async (t) => {
  const dir = tempDir(t);
  const store = openSqliteStore(join(dir, 'ekmd.db'));
  t.teardown(() => store.close());
  t.same(await store.ensemble(), []);
  t.same(store.ensembleEndpoints(), []);
  const clusterService = new ClusterService(store);
  await clusterService.create(CREATE);
  t.same(clusterService.info().ensemble, ['10.0.1.1'], 'the cluster node, as before');
});

t.test('ensemble hosts: IPv4, IPv6 without brackets, names as they are', async (t) => {
  const hosts = ensembleHosts({
    ensembleEndpoints: () => [
      'https://10.0.0.1:2379',
      'https://[fd00::2]:2379',
      'http://etcd-3.example:2379',
    ],
  });
  t.same(hosts, ['10.0.0.1', 'fd00::2', 'etcd-3.example']);
  t.equal(ensembleHosts({ ensembleEndpoints: () => [] }), undefined, 'none: embedded');
});
