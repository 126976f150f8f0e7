// Each node owns its drives, all real processes (a 3-member etcd, the dev key server, three
// ekmd nodes with four simulated drives each on 127.0.0.1-3):
//  - EnableEncryptionAtRest through node 3 secures all twelve; node 1 lists the twelve with
//    their nodes and keyIDs;
//  - every drive power-cycled and every node restarted at once: each node unlocks its own
//    drives, and the blocks written before read back the same;
//  - every etcd member stopped, node 2 power-cycled and restarted: it unlocks its drives from
//    its key plan; a drive that failed meanwhile shows as node 2's driveFailed once etcd is
//    back.
import t from 'tap';
import { setUpCluster } from '../../scripts/dev/cluster-setup';
import type { RpcClient } from '../../scripts/reliability/matrix/rpc';
import type { ClusterNode } from '../../scripts/cluster/node';
import { ADMIN, currentFaults, startCreatedCluster, until } from './fixtures/cluster';
import { lockedOf, sim } from './fixtures/sim';

const DRIVES = 4;
const LBA = 9;

interface Drive {
  driveID: number;
  nodeID: number;
  serial: string;
  keyID: string | null;
  status: string;
}

const powerCycle = (node: ClusterNode) => sim(node, (c) => c.request({ op: 'power-cycle' }));
const block = (node: ClusterNode, drive: number) => Buffer.alloc(512, 16 * node.index + drive);

/** Until no drive of `node` is locked. */
const unlocked = (node: ClusterNode, ms: number) =>
  until(
    `node ${node.index}'s drives unlocked`,
    async () => ((await lockedOf(node)).length === 0 ? true : undefined),
    ms,
    100,
  );

t.test('three nodes × four drives: EAR, a restart of all, a boot without etcd', async (t) => {
  const { cluster, apis } = await startCreatedCluster(t, 3, { drives: () => DRIVES });
  const [api1, api2, api3] = apis as [RpcClient, RpcClient, RpcClient];

  t.test('EnableEncryptionAtRest through node 3 secures all twelve', async (t) => {
    // Key pair, CSR signed by the dev CA, key server, provider and the enable, all via node 3.
    await setUpCluster(api3 as never, ADMIN, cluster.pkiDir, cluster.kmipPort);
    const drives = await until(
      'twelve drives with a key',
      async () => {
        const all = (await api1.ok('ListDrives')).drives as Drive[];
        return all.filter((d) => d.keyID).length === 3 * DRIVES ? all : undefined;
      },
      120_000,
    );
    for (const nodeID of [1, 2, 3])
      t.equal(drives.filter((d) => d.nodeID === nodeID).length, DRIVES, `node ${nodeID}: 4 drives`);
    t.equal(new Set(drives.map((d) => d.keyID)).size, 3 * DRIVES, 'a key of its own for each');
    t.equal((await api2.ok('ListDrives')).drives.length, 3 * DRIVES, 'node 2 lists the same');
  });

  t.test('every drive power-cycled, every node restarted at once', async (t) => {
    for (const node of cluster.nodes)
      await sim(node, async (c) => {
        for (let d = 0; d < DRIVES; d++)
          await c.request({ op: 'write', drive: d, lba: LBA }, block(node, d));
      });
    await Promise.all(cluster.nodes.map((n) => n.stop()));
    for (const node of cluster.nodes) await powerCycle(node);
    for (const node of cluster.nodes)
      t.equal((await lockedOf(node)).length, DRIVES, `node ${node.index}: all locked`);
    await Promise.all(cluster.nodes.map((n) => n.start()));
    for (const node of cluster.nodes) {
      await unlocked(node, 60_000);
      const same = await sim(node, async (c) => {
        let ok = 0;
        for (let d = 0; d < DRIVES; d++) {
          const r = await c.request({ op: 'read', drive: d, lba: LBA });
          if (r.payload?.equals(block(node, d))) ok++;
        }
        return ok;
      });
      t.equal(same, DRIVES, `node ${node.index}: its drives unlocked, data intact`);
    }
  });

  t.test('etcd stopped: node 2 boots from its key plan', async (t) => {
    const node2 = cluster.nodes[1]!;
    const members = cluster.etcd.members.map((_, i) => i);
    await node2.stop();
    for (const m of members) await cluster.etcd.kill(m);
    await powerCycle(node2);
    // Drive 3 fails at this boot: its outcome waits for the store.
    await sim(node2, (c) => c.request({ op: 'inject', drive: 3, fault: 'io-error' }));
    // "ekmd ready" waits for the store; the drives do not.
    const started = node2.start().catch((err: unknown) => err);
    await until(
      'drives 0-2 unlocked',
      async () => {
        const locked = await lockedOf(node2);
        return locked.length === 1 && locked[0] === 3 ? true : undefined;
      },
      60_000,
      100,
    );
    t.pass('node 2 unlocked its three healthy drives with etcd down');

    await Promise.all(members.map((m) => cluster.etcd.restart(m, { waitHealthy: false })));
    for (const m of members) await cluster.etcd.healthy(m);
    t.notOk(await started, 'node 2 ready once etcd is back');
    const fault = await until(
      "node 2's driveFailed",
      async () => (await currentFaults(api1, 'driveFailed')).find((f) => f.nodeID === 2),
      60_000,
    );
    t.match(fault.details, 'Node ID 2 has 1 failed drive', 'the failed drive, on node 2');
    await sim(node2, (c) => c.request({ op: 'inject', drive: 3, fault: 'clear' }));
  });
});
