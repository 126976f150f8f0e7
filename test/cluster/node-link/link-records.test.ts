// A node's link address (port and pinned certificate) travels with its node records on a
// real etcd: published while pending, kept when CreateCluster makes it active, brought up to
// date when the node starts again listening elsewhere.
import t, { type Test } from 'tap';
import { startEtcd } from '../../../scripts/etcd/members';
import { ClusterService } from '../../../src/cluster/cluster-info';
import { nodeIdentity } from '../../../src/cluster/nodes/node-identity';
import { activeNodeKey, type NodeRecord } from '../../../src/cluster/nodes/node-records';
import { NodeService } from '../../../src/cluster/nodes/node-service';
import type { Store } from '../../../src/store';
import { until } from '../../helpers/until';
import { client, etcdBackend, type Location } from '../../store/contract/backends';
import { tempDir } from '../../store/tmpdir';

const link = (port: number) => ({ port, certificate: `certificate of port ${port}` });

async function startNode(t: Test, location: Location, dir: string, n: number, port: number) {
  const store: Store = await client(t, location);
  const self = { ...nodeIdentity(dir, { name: `node-${n}`, ip: `10.0.0.${n}` }), link: link(port) };
  const nodes = new NodeService(store, self, { leaseTtlSeconds: 2, stateDir: dir });
  t.teardown(() => nodes.close());
  await nodes.start();
  return { store, nodes };
}

void (async () => {
  const etcd = await startEtcd(t);
  const backend = etcdBackend(etcd.endpoints);

  t.test('the link address is in the pending and active records', async (t) => {
    const location = backend.fresh(t);
    const [dir1, dir2] = [tempDir(t), tempDir(t)];
    const n1 = await startNode(t, location, dir1, 1, 7001);
    const n2 = await startNode(t, location, dir2, 2, 7002);
    await until('two pending', () => n1.nodes.pending().length === 2);
    t.same(
      n1.store
        .list<{ link?: unknown }>('nodes/pending/')
        .map((e) => e.value.link)
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      [link(7001), link(7002)],
      'published while pending',
    );
    await new ClusterService(n1.store, { nodes: n1.nodes }).create({
      acceptEula: true,
      mvip: '10.0.0.100',
      svip: '10.0.1.100',
      nodes: ['10.0.0.1', '10.0.0.2'],
      username: 'admin',
      password: 'a long enough password',
    });
    const record = (id: number) => n1.store.get<NodeRecord>(activeNodeKey(id))?.value;
    t.same(record(1)?.link, link(7001), 'node 1 active with its link');
    t.same(record(2)?.link, link(7002), 'node 2 active with the link it published');

    await until('node 2 joined', () => n2.nodes.active().length === 2);
    await n2.nodes.close();
    await startNode(t, location, dir2, 2, 7102);
    await until('node 2’s record follows its new port', () => record(2)?.link?.port === 7102);
    t.same(record(2)?.link, link(7102));
  });
})();
