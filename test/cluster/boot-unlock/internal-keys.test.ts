// Boot unlock with internal (sealed) AKs against the real simulator: power cycle → every
// drive unlocked, data intact; a drive whose PIN changed out of band is tried exactly once,
// the guard outlives the service and is released by a new boot id.
import t from 'tap';
import { sealLabel, type DriveKeyRecord } from '../../../src/cluster/drive-keys/drive-keys';
import { OpalUser } from '../../../src/opal/abi';
import {
  createCluster,
  startEarNode,
  waitForEarState,
  type EarNode,
} from '../hardware-ear/ear-node';
import { openUnlocker } from './unlock-harness';

function akOf(node: EarNode, keyID: string): Buffer {
  const rec = node.store.get<DriveKeyRecord>(`keys/${keyID}`)!.value;
  return node.sealer.unseal(Buffer.from(rec.sealedKey!, 'base64'), sealLabel(keyID));
}

t.test('boot unlock with internal keys', async (t) => {
  const node = await startEarNode(t, { drives: 3 });
  await createCluster(node);
  await node.client.ok('EnableEncryptionAtRest');
  await waitForEarState(node, 'enabled');
  const drives = (await node.client.ok('ListDrives')).drives as Record<string, any>[];
  const sim = () => node.sim.status().drives;
  const data = (slot: number) => Buffer.alloc(512, 0x40 + slot);
  for (const d of drives) node.sim.drives[d.slot]!.writeBlock(7, data(d.slot));

  t.test('power cycle → every drive unlocked, data readable', async (t) => {
    node.sim.powerCycle();
    t.ok(
      sim().every((s) => s.locked),
      'locked after the power cycle',
    );
    const u = openUnlocker(node);
    const result = await u.service.round();
    await u.close();
    t.same(result.unlocked.sort(), drives.map((d) => d.driveID).sort());
    t.equal(result.failed.size, 0);
    for (const d of drives) {
      t.notOk(sim()[d.slot]!.locked, `drive ${d.slot} unlocked`);
      t.same(node.sim.drives[d.slot]!.readBlock(7), data(d.slot), `drive ${d.slot} data intact`);
    }
    t.same(u.currentFaults('driveFailed'), []);
  });

  t.test('wrong key: one attempt, guarded across instances, released by a new boot', async (t) => {
    const d = drives[1]!;
    const ak = akOf(node, d.keyID);
    await node
      .opal(d.slot)
      .setPin(
        { who: OpalUser.ADMIN1, pin: ak },
        OpalUser.ADMIN1,
        Buffer.from('changed-out-of-band'),
      );
    node.sim.powerCycle();
    const tries = () => sim()[d.slot]!.tries.admin1;
    const before = tries();

    const first = openUnlocker(node, { bootID: 'boot-1' });
    const r1 = await first.service.round();
    t.equal(tries(), before + 1, 'exactly one attempt');
    t.match(r1.failed.get(d.driveID), /NOT_AUTHORIZED/);
    t.equal(r1.retry, false, 'a refused key is not retried');
    t.same(first.currentFaults('driveFailed')[0]?.driveIDs, [d.driveID]);
    t.equal(r1.unlocked.length, drives.length - 1, 'the other drives unlocked');
    await first.service.round();
    await first.close();
    t.equal(tries(), before + 1, 'not tried again in the same instance');

    const second = openUnlocker(node, { bootID: 'boot-1' });
    const r2 = await second.service.round();
    await second.close();
    t.equal(tries(), before + 1, 'not tried again by a new instance in the same boot');
    t.match(r2.failed.get(d.driveID), /TryLimit guard/);

    const third = openUnlocker(node, { bootID: 'boot-2' });
    await third.service.round();
    await third.close();
    t.equal(tries(), before + 2, 'a new boot id releases the guard: one more attempt');
    t.ok(sim()[d.slot]!.locked);
  });

  t.test('a key that fails its key check value never reaches the drive', async (t) => {
    const d = drives[2]!;
    const keyPath = `keys/${d.keyID}`;
    const record = node.store.get<DriveKeyRecord>(keyPath)!.value;
    await node.store.transaction((tx) =>
      tx.put(keyPath, { ...record, keyCheckValue: '00'.repeat(32) } as never),
    );
    node.sim.powerCycle();
    const before = sim()[d.slot]!.tries.admin1;
    const u = openUnlocker(node, { bootID: 'boot-3' });
    const result = await u.service.round();
    t.match(result.failed.get(d.driveID), /does not match its key check value/);
    t.equal(sim()[d.slot]!.tries.admin1, before, 'no attempt on the drive');
    t.ok(sim()[d.slot]!.locked);
    t.ok(u.currentFaults('driveFailed')[0]?.driveIDs.includes(d.driveID));
    await u.close();
    await node.store.transaction((tx) => tx.put(keyPath, record as never));
  });

  t.test('authority locked out → driveFailed saying so', async (t) => {
    const d = drives[1]!;
    const wrong = () =>
      node.opal(d.slot).unlock({ who: OpalUser.ADMIN1, pin: Buffer.from('guess') }, 0);
    for (let i = 0; i < 100; i++) {
      const err = await wrong().catch((e: Error) => e);
      if (err instanceof Error && err.name === 'OpalLockedOutError') break;
    }
    const u = openUnlocker(node, { bootID: 'boot-4' });
    const result = await u.service.round();
    await u.close();
    t.match(result.failed.get(d.driveID), /authority locked out/);
    t.equal(result.retry, false);
  });
});
