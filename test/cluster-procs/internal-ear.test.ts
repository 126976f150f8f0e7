// Hardware EAR without a key provider on three real ekmd processes (a 3-member etcd, two
// simulated drives each): Enable splits the drive-access key across the nodes and every
// node secures its drives; node 1 power-cycled and restarted while nodes 2 and 3 are down
// keeps its drives locked (driveFailed names them), and unlocks them once node 2 is back
// and serves its share over the node link.
import t from 'tap';
import type { ClusterNode } from '../../scripts/cluster/node';
import type { RpcClient } from '../../scripts/reliability/matrix/rpc';
import { currentFaults, startCreatedCluster, until } from './fixtures/cluster';
import { lockedOf, sim } from './fixtures/sim';

const DRIVES = 2;

t.test('internal keys across three nodes: a node alone cannot unlock', async (t) => {
  const { cluster, apis } = await startCreatedCluster(t, 3, { drives: () => DRIVES });
  const [api1] = apis as [RpcClient];
  const [one, two, three] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];

  await api1.ok('EnableEncryptionAtRest');
  await until(
    'enabled',
    async () => ((await api1.ok('GetEncryptionAtRestInfo')).state === 'enabled' ? true : undefined),
    120_000,
  );
  const info = await api1.ok('GetEncryptionAtRestInfo');
  t.same(info.authenticationKeyInfo, { keyManagementType: 'internal' });
  const drives = (await api1.ok('ListDrives')).drives as Record<string, any>[];
  t.equal(
    drives.filter((d) => d.keyID && d.keyProviderID === undefined).length,
    3 * DRIVES,
    'every drive has an internal key',
  );

  await Promise.all([two.stop(), three.stop()]);
  await one.stop();
  await sim(one, (c) => c.request({ op: 'power-cycle' }));
  await one.start();
  t.equal((await lockedOf(one)).length, DRIVES, 'node 1 alone: its drives stay locked');
  const failed = await until(
    'driveFailed for node 1',
    async () => {
      const f = (await currentFaults(api1, 'driveFailed')).filter((x) => x.nodeID === 1);
      return f.length ? f : undefined;
    },
    30_000,
  );
  t.ok(failed.length > 0, 'driveFailed raised');

  await two.start();
  await until(
    'node 1 unlocked through node 2’s share',
    async () => ((await lockedOf(one)).length === 0 ? true : undefined),
    90_000,
    200,
  );
  t.pass('unlocked once node 2 serves its share');
});
