// Boot unlock as the daemon wires it: started with the drives, it unlocks the drives a
// power cycle relocks (the inventory's relocked events), a drive unplugged and plugged
// back in (added), and the drives found locked when the node restarts, with no call from
// outside.
import t from 'tap';
import { createCluster, startEarNode, waitForEarState } from '../hardware-ear/ear-node';
import { waitFor } from './unlock-harness';

t.test('boot unlock wired into the node', async (t) => {
  const node = await startEarNode(t, { drives: 3, faults: true });
  await createCluster(node);
  await node.client.ok('EnableEncryptionAtRest');
  await waitForEarState(node, 'enabled');
  const locked = () => node.sim.status().drives.filter((d) => d.locked).length;

  t.test('relocked while running → unlocked again', async (t) => {
    node.sim.powerCycle();
    await waitFor(() => locked() === 0);
    t.pass('every drive unlocked after the relock');
  });

  t.test('unplugged and plugged back in while running → unlocked again', async (t) => {
    node.sim.unplug(1);
    await waitFor(() => !node.hw.drives.records().find((d) => d.slot === 1)!.present);
    node.sim.plug(1);
    t.ok(node.sim.status().drives[1]!.locked, 'plugged in locked');
    await waitFor(() => locked() === 0);
    await node.hw.unlock!.idle();
    const back = node.hw.drives.records().find((d) => d.slot === 1)!;
    t.ok(back.present, 'present again');
    t.equal(back.driveFailureDetail, null, 'no failure left');
    t.same(node.faults!.list('current'), [], 'no fault');
  });

  t.test('locked at start → unlocked at start', async (t) => {
    await node.close();
    node.sim.powerCycle();
    t.equal(locked(), 3);
    await node.open();
    await waitFor(() => locked() === 0);
    await node.hw.unlock!.idle();
    t.same(node.faults!.list('current'), [], 'no fault');
  });
});
