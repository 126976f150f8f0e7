// A metadata (volume) drive left locked past unlock.metadataGraceSec is failed and moved
// to available with sliceServiceUnhealthy and driveAvailable; once its key works again it
// unlocks, AddDrives makes it active and both faults resolve (Element's recovery). Drives
// left locked show why in ListDrives. After an unlock the afterUnlock step (the partition
// re-read on real disks) runs, and its failure is logged, not fatal.
import t from 'tap';
import { sealLabel, type DriveKeyRecord } from '../../../src/cluster/drive-keys/drive-keys';
import { OpalUser } from '../../../src/opal/abi';
import {
  createCluster,
  startEarNode,
  waitForEarState,
  type EarNode,
} from '../hardware-ear/ear-node';
import { openUnlocker, waitFor } from './unlock-harness';

function akOf(node: EarNode, keyID: string): Buffer {
  const rec = node.store.get<DriveKeyRecord>(`keys/${keyID}`)!.value;
  return node.sealer.unseal(Buffer.from(rec.sealedKey!, 'base64'), sealLabel(keyID));
}

t.test('metadata drive grace and recovery', async (t) => {
  const node = await startEarNode(t, { drives: 3 });
  await createCluster(node);
  await node.client.ok('EnableEncryptionAtRest');
  await waitForEarState(node, 'enabled');
  const list = async () => (await node.client.ok('ListDrives')).drives as Record<string, any>[];
  const bySlot = async (slot: number) => (await list()).find((d) => d.slot === slot)!;
  await node.client.ok('AddDrives', {
    drives: (await list()).map((d) => ({ driveID: d.driveID })),
  });
  await node.settle();
  const meta = await bySlot(0);
  t.match(meta, { status: 'active', type: 'volume' }, 'slot 0 is the metadata drive');
  const sim = () => node.sim.status().drives;

  // The metadata drive's PIN changed out of band: it refuses its key.
  const ak = akOf(node, meta.keyID);
  // OpalDrive zeroes every PIN it is given: each call gets its own copy.
  const other = () => Buffer.from('changed-out-of-band');
  await node
    .opal(0)
    .setPin({ who: OpalUser.ADMIN1, pin: Buffer.from(ak) }, OpalUser.ADMIN1, other());
  node.sim.powerCycle();

  const reread: string[] = [];
  const u = openUnlocker(node, {
    metadataGraceSec: 1,
    afterUnlock: async (path) => {
      reread.push(path);
      if (path.endsWith(':1')) throw new Error('BLKRRPART: device busy');
    },
  });
  t.teardown(() => u.close());
  node.hw.drives.onAdded(() => void u.service.reconcile());
  const current = (code: string) => u.currentFaults(code);

  t.test('locked → failed with a reason; after the grace → available, two faults', async (t) => {
    const r = await u.service.round();
    t.same(r.failed.size, 1);
    t.same(reread.sort(), ['sim:1', 'sim:2'], 'partition re-read after each unlock');
    t.ok(u.warnings().includes('could not re-read the partition table after unlock'), 'logged');
    t.notOk(sim()[1]!.locked, 'a failed re-read leaves the drive unlocked');
    const locked = await bySlot(0);
    t.equal(locked.status, 'failed', 'in use and locked: failed');
    t.match(locked.driveFailureDetail, /Locked: the drive refused its key/);
    t.notOk('driveFailureDetail' in (await bySlot(1)), 'an unlocked drive has no failure detail');
    t.same(current('sliceServiceUnhealthy'), [], 'no fault within the grace');

    u.service.start(); // the grace timer runs a round when the grace ends
    await waitFor(() => current('sliceServiceUnhealthy').length === 1);
    await u.service.idle();
    const moved = await bySlot(0);
    t.match(moved, { status: 'available', type: 'unknown' }, 'moved to available');
    t.match(moved.driveFailureDetail, /Locked:/, 'still says why');
    const [slice] = current('sliceServiceUnhealthy');
    t.match(slice, {
      type: 'service',
      severity: 'warning',
      serviceID: meta.driveID,
      driveID: meta.driveID,
      nodeID: 1,
    });
    t.match(slice!.details, /cannot communicate with a metadata service.*still locked/);
    t.same(current('driveAvailable')[0]?.driveIDs, [meta.driveID]);
    t.match(current('driveAvailable')[0]?.details, 'Node ID 1 has 1 available drive(s).');
  });

  t.test('key works again → unlocked; AddDrives → active, faults resolved', async (t) => {
    await node
      .opal(0)
      .setPin({ who: OpalUser.ADMIN1, pin: other() }, OpalUser.ADMIN1, Buffer.from(ak));
    t.same(await u.service.releaseGuards([meta.driveID]), [meta.driveID], 'guard released');
    await waitFor(() => !sim()[0]!.locked);
    await u.service.idle();
    const unlocked = await bySlot(0);
    t.equal(unlocked.status, 'available', 'waits for AddDrives');
    t.notOk('driveFailureDetail' in unlocked, 'failure detail cleared');
    t.match(current('sliceServiceUnhealthy')[0]?.details, /add it again with AddDrives/);
    t.same(current('driveFailed'), [], 'no drive left locked');

    await node.client.ok('AddDrives', { drives: [{ driveID: meta.driveID }] });
    await node.settle();
    t.match(await bySlot(0), { status: 'active', type: 'volume' });
    t.same(current('sliceServiceUnhealthy'), [], 'sliceServiceUnhealthy resolved');
    t.same(current('driveAvailable'), [], 'driveAvailable resolved');
    const resolved = u.faults.list('resolved').map((f) => f.code);
    t.ok(resolved.includes('sliceServiceUnhealthy') && resolved.includes('driveAvailable'));
  });

  t.test('an unknown drive ID releases nothing', async (t) => {
    const before = node.snapshot();
    await t.rejects(u.service.releaseGuards([9999]), /Drive 9999 does not exist/);
    t.equal(node.snapshot(), before, 'nothing changed');
  });
});
