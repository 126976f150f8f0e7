// Key server failover at boot through real processes: a provider with two dev key servers
// holding the same keys; the first one refusing connections, stalled (accepts, never
// answers the handshake) or gone → every drive unlocked through the second.
import t from 'tap';
import { poweredOffNode } from './fixtures/boot-flow';
import { lockedCount, waitUntil, type DevKeyServer } from './fixtures/boot-rig';

const CASES: [string, (first: DevKeyServer) => Promise<unknown>][] = [
  ['refusing', (first) => first.inject('refuse')],
  ['stalled', (first) => first.inject('stall')],
  ['stopped (closed port)', (first) => first.stop()],
];

for (const [how, breakFirst] of CASES) {
  t.test(`first key server ${how}: unlocked through the second`, async (t) => {
    const { node, servers } = await poweredOffNode(t, 4, 2);
    const r = (await breakFirst(servers[0]!)) as { status?: number } | undefined;
    if (r && 'status' in r) t.equal(r.status, 0, `first key server ${how}`);
    t.equal(await lockedCount(node.sim), 4, 'drives locked at boot');
    const ekmd = await node.start();
    await waitUntil('every drive unlocked', async () => (await lockedCount(node.sim)) === 0);
    t.ok(
      (await node.sim.status()).every((d) => d.tries.admin1 === 0),
      'no PIN retry spent',
    );
    const failed = (await ekmd.client.ok('ListClusterFaults', { faultTypes: 'current' }))
      .faults as { code: string }[];
    t.notOk(
      failed.some((f) => f.code === 'driveFailed'),
      'no driveFailed',
    );
    await ekmd.stop();
  });
}
