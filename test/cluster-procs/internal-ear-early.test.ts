// The early unlock of drives whose internal AK is sealed under the split drive-access key,
// on three real ekmd processes (a 3-member etcd, two simulated drives each), hardware EAR
// enabled without a key provider:
//  - the key plan follows the peers' links to their new ports when they restart;
//  - every etcd member stopped, node 1 power-cycled and restarted: it unlocks its drives
//    from its key plan with a peer's share (the peers answer from their last view of the
//    store), the blocks written before read back the same, and once etcd is back no
//    driveFailed stays;
//  - etcd stopped, nodes 2 and 3 stopped, node 1 restarted: its drives stay locked, the
//    daemon goes on, and node 1's driveFailed shows once etcd is back.
import { createConnection } from 'node:net';
import t from 'tap';
import type { ClusterNode } from '../../scripts/cluster/node';
import type { RpcClient } from '../../scripts/reliability/matrix/rpc';
import { parseKeyPlan, readKeyPlanText } from '../../src/cluster/boot-unlock/key-plan';
import { KEY_PLAN_SCHEMA, schemaValidator } from '../../src/daemon/generated-validators';
import { currentFaults, startCreatedCluster, until } from './fixtures/cluster';
import { lockedOf, sim } from './fixtures/sim';

const DRIVES = 2;
const LBA = 7;

const block = (drive: number) => Buffer.alloc(512, 0x40 + drive);
const powerCycle = (node: ClusterNode) => sim(node, (c) => c.request({ op: 'power-cycle' }));

/** Whether something listens at 127.0.0.x:port. */
const listening = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

/** The early unlock's summary line of `node`'s latest start, once logged. */
const earlySummary = (node: ClusterNode) =>
  until(
    `node ${node.index}'s early unlock over`,
    async () => node.logLines().find((l) => l.msg === 'early unlock over'),
    60_000,
    200,
  );

t.test('internal keys under the split key, unlocked before the store opens', async (t) => {
  const { cluster, apis } = await startCreatedCluster(t, 3, { drives: () => DRIVES });
  const [api1] = apis as [RpcClient];
  const [one, two, three] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode];
  const members = cluster.etcd.members.map((_, i) => i);
  const stopEtcd = async () => {
    for (const m of members) await cluster.etcd.kill(m);
  };
  const startEtcd = async () => {
    await Promise.all(members.map((m) => cluster.etcd.restart(m, { waitHealthy: false })));
    for (const m of members) await cluster.etcd.healthy(m);
  };
  const node1Failed = async () =>
    (await currentFaults(api1, 'driveFailed')).filter((f) => f.nodeID === 1);

  await api1.ok('EnableEncryptionAtRest');
  await until(
    'enabled',
    async () => ((await api1.ok('GetEncryptionAtRestInfo')).state === 'enabled' ? true : undefined),
    120_000,
  );
  await sim(one, async (c) => {
    for (let d = 0; d < DRIVES; d++) await c.request({ op: 'write', drive: d, lba: LBA }, block(d));
  });
  // The plan names both peers where they listen now (its keeper follows their records).
  const validate = schemaValidator(KEY_PLAN_SCHEMA).validate;
  const currentPlan = (what: string, unlike: number[] = []) =>
    until(
      what,
      async () => {
        const p = parseKeyPlan(readKeyPlanText(one.stateDir), validate);
        const split = p?.splitKey;
        if (split?.drives.length !== DRIVES || split.peers.length !== 2) return undefined;
        for (const peer of split.peers)
          if (unlike.includes(peer.port) || !(await listening(peer.host, peer.port)))
            return undefined;
        return p;
      },
      60_000,
    );
  const before = await currentPlan("node 1's key plan with its drives and both peers");
  // Both peers restarted: their links listen on new ports, which the plan must follow.
  for (const peer of [two, three]) {
    await peer.stop();
    await peer.start();
  }
  const plan = await currentPlan(
    "node 1's key plan with the peers' new ports",
    before.splitKey!.peers.map((p) => p.port),
  );
  t.same(
    plan.splitKey!.peers.map((p) => p.nodeID),
    [2, 3],
    'the plan pins nodes 2 and 3',
  );
  t.equal(plan.drives.length, 0, 'no drive at a key provider');

  t.test('etcd stopped: node 1 unlocks from its plan with a peer’s share', async (t) => {
    await one.stop();
    await stopEtcd();
    await powerCycle(one);
    t.equal((await lockedOf(one)).length, DRIVES, 'node 1: its drives locked');
    // "ekmd ready" waits for the store; the drives do not.
    const started = one.start().catch((err: unknown) => err);
    await until(
      "node 1's drives unlocked",
      async () => ((await lockedOf(one)).length === 0 ? true : undefined),
      60_000,
      100,
    );
    t.match(await earlySummary(one), { unlocked: DRIVES, failed: 0 }, 'by the early unlock');
    const same = await sim(one, async (c) => {
      let ok = 0;
      for (let d = 0; d < DRIVES; d++) {
        const r = await c.request({ op: 'read', drive: d, lba: LBA });
        if (r.payload?.equals(block(d))) ok++;
      }
      return ok;
    });
    t.equal(same, DRIVES, 'the data written before reads back the same');

    await startEtcd();
    t.notOk(await started, 'node 1 ready once etcd is back');
    const drives = await until(
      "node 1's drives recorded unlocked",
      async () => {
        const all = (await api1.ok('ListDrives')).drives as Record<string, unknown>[];
        const mine = all.filter((d) => d.nodeID === 1);
        return mine.length === DRIVES && mine.every((d) => !d.driveFailureDetail)
          ? mine
          : undefined;
      },
      60_000,
    );
    t.equal(drives.length, DRIVES, 'no drive of node 1 shows a failure');
    t.same(await node1Failed(), [], 'no driveFailed for node 1');
  });

  t.test('etcd and both peers stopped: locked, the daemon goes on', async (t) => {
    await Promise.all([two.stop(), three.stop()]);
    await one.stop();
    await stopEtcd();
    await powerCycle(one);
    const started = one.start().catch((err: unknown) => err);
    t.match(
      await earlySummary(one),
      { unlocked: 0, failed: DRIVES },
      'the early unlock found no peer',
    );
    t.equal((await lockedOf(one)).length, DRIVES, 'node 1: its drives stay locked');

    await startEtcd();
    t.notOk(await started, 'node 1 ready once etcd is back');
    const failed = await until(
      "node 1's driveFailed",
      async () => ((await node1Failed()).length ? await node1Failed() : undefined),
      60_000,
    );
    t.ok(failed.length > 0, 'driveFailed for node 1 once etcd is back');
  });
});
