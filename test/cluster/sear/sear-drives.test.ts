// Drives that come and go under SEAR: a drive that appears after CreateCluster gets its own
// DEK (recorded wrapped before it reaches the drive); a drive unplugged and plugged back
// (its DEK lost with power) gets the same DEK again, so its data is still readable.
import t from 'tap';
import { createCluster, pattern, startSearNode, waitFor } from './sear-node';

t.test('a drive that appears later gets a DEK; a replugged one gets its DEK back', async (t) => {
  const node = await startSearNode(t, { drives: 3 });
  node.sim.unplug(2);
  await waitFor('drive 2 gone', async () => {
    const drives = (await node.client.ok('ListDrives')).drives as Record<string, any>[];
    return drives.length === 2;
  });
  await createCluster(node);
  await node.settle();
  t.same(
    node.sim.status().drives.map((d) => d.dek),
    ['attached', 'attached', 'none'],
    'only present drives get DEKs',
  );
  t.equal(node.store.list('sear/deks/').length, 2);

  node.sim.plug(2);
  await waitFor('drive 2 attached', async () => node.sim.status().drives[2]!.dek === 'attached');
  t.equal(node.store.list('sear/deks/').length, 3, 'the new drive has its DEK recorded');
  node.sim.drives[2]!.writeBlock(4, pattern(2));

  node.sim.unplug(2);
  await waitFor('drive 2 gone', async () => {
    const drives = (await node.client.ok('ListDrives')).drives as Record<string, any>[];
    return drives.length === 2;
  });
  node.sim.plug(2);
  await waitFor('drive 2 back', async () => node.sim.status().drives[2]!.dek === 'attached');
  t.same(node.sim.drives[2]!.readBlock(4), pattern(2), 'its data is readable again');
  t.equal(node.store.list('sear/deks/').length, 3, 'the same DEK, not a new one');
});
