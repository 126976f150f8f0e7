// Drives that come back locked while ekmd runs, through real processes (ekmd, ekmd-sim,
// the dev key server): a drive unplugged and plugged in again, and one power-cycled on its
// own, are unlocked again; while the key server refuses, the replugged drive stays locked
// with driveFailed naming it, until the key server answers again.
import t from 'tap';
import { poweredOffNode } from './fixtures/boot-flow';
import { blockOf, faults, waitUntil, type Sim } from './fixtures/boot-rig';

const lockedOf = async (sim: Sim, drive: number) => (await sim.status())[drive]!.locked;
const allUnlocked = async (sim: Sim) => (await sim.status()).every((d) => !d.locked);

t.test('unplugged and replugged while ekmd runs: unlocked again', async (t) => {
  const { node, servers, drives } = await poweredOffNode(t, 3);
  const ekmd = await node.start();
  await waitUntil('boot unlock', () => allUnlocked(node.sim));
  t.equal((await node.sim.write(1, 3, blockOf(1))).status, 0, 'data written to drive 1');

  t.equal((await node.sim.ctl('unplug', '--drive', '1')).status, 0, 'drive 1 unplugged');
  t.notOk((await node.sim.status())[1]!.plugged, 'drive 1 gone');
  t.equal((await node.sim.ctl('plug', '--drive', '1')).status, 0, 'drive 1 plugged in');
  await waitUntil('drive 1 unlocked again', async () => !(await lockedOf(node.sim, 1)));
  const r = await node.sim.read(1, 3);
  t.equal(r.stdout.trim(), blockOf(1), 'data intact after the replug');

  t.equal((await node.sim.ctl('power-cycle', '--drive', '2')).status, 0, 'drive 2 relocked');
  await waitUntil('drive 2 unlocked again', async () => !(await lockedOf(node.sim, 2)));

  // Now with the key server refusing: the replugged drive waits, faulted, and recovers.
  const kms = servers[0]!;
  t.equal((await kms.inject('refuse')).status, 0, 'key server refuses');
  t.equal((await node.sim.ctl('unplug', '--drive', '0')).status, 0);
  t.equal((await node.sim.ctl('plug', '--drive', '0')).status, 0);
  const slot0 = drives.find((d) => d.slot === 0) ?? drives[0]!;
  await waitUntil('driveFailed for the replugged drive', async () =>
    (await faults(ekmd.client)).some(
      (f) => f.code === 'driveFailed' && f.driveIDs.includes(slot0.driveID),
    ),
  );
  const failed = (await faults(ekmd.client)).find((f) => f.code === 'driveFailed')!;
  t.same(failed.driveIDs, [slot0.driveID], 'only the replugged drive failed');
  t.ok(await lockedOf(node.sim, 0), 'drive 0 locked while the key server refuses');
  t.notOk(await lockedOf(node.sim, 1), 'the other drives stay unlocked');
  t.equal((await kms.inject('clear')).status, 0, 'key server answers again');
  await waitUntil('drive 0 unlocked', async () => !(await lockedOf(node.sim, 0)));
  await waitUntil('faults resolved', async () => (await faults(ekmd.client)).length === 0);
  t.ok(
    (await node.sim.status()).every((d) => d.tries.admin1 === 0),
    'no PIN retry spent',
  );
  await ekmd.stop();
});
