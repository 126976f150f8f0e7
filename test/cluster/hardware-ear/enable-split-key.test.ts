// Hardware EAR without a key provider on three nodes: Enable splits the drive-access key
// (DAK) across them and seals each AK under it, so the cluster sealer and one node's files
// open no AK; a power-cycled node unlocks its drives with a peer's share fetched over mutual
// TLS (real share servers on loopback, the real simulator), and with both peers down its
// drives stay locked with a reason naming each peer, until one is back. Disable keeps the
// owner keys under the DAK too, and Enable again rekeys both PINs from them (twice over, then
// an erase as SID). One node: unchanged.
import t from 'tap';
import {
  checkMatches,
  sealLabel,
  type DriveKeyRecord,
} from '../../../src/cluster/drive-keys/drive-keys';
import { ownShare } from '../../../src/cluster/split-key/split-key';
import { splitKeyState } from '../../../src/cluster/split-key/split-key-records';
import { combine } from '../../../src/util/shamir';
import { openUnlocker } from '../boot-unlock/unlock-harness';
import { waitForEarState, type EarNode } from './ear-node';
import { checkPinsKnown, eraseAll } from './pins-known';
import { earNodeWithAccess, peersReached } from './split-key-node';

const keyRecords = (node: EarNode): DriveKeyRecord[] =>
  node.store.list<DriveKeyRecord>('keys/').map((e) => e.value);

t.test('three nodes: AKs under the split drive-access key', async (t) => {
  const { node, own, access, peer } = await earNodeWithAccess(t, 2);
  const two = await peer(2);
  const three = await peer(3);

  await node.client.ok('EnableEncryptionAtRest');
  await peersReached(node, 'enabled');
  await waitForEarState(node, 'enabled');
  const drives = (await node.client.ok('ListDrives')).drives as Record<string, any>[];
  t.equal(drives.length, 2);
  const state = splitKeyState(node.store)!;
  t.same(state.nodeIDs, [1, 2, 3], 'the key is split across the three nodes');

  const live = keyRecords(node).filter((r) => r.state === 'live');
  t.equal(live.length, 2);
  for (const r of live) {
    t.equal(r.sealing, 'dak', `key ${r.keyID} marked as sealed under the DAK`);
    // The cluster sealer and node 1's files (its own share) are all an attacker with a
    // store snapshot and this node's disk has: neither opens the AK.
    const outer = node.sealer.unseal(Buffer.from(r.sealedKey!, 'base64'), sealLabel(r.keyID));
    t.notOk(
      checkMatches(outer.subarray(0, 32), r),
      'the cluster sealer opens only the outer layer',
    );
    const share = ownShare(node.store, own.holder, state.generation)!;
    t.throws(() => combine([share]), 'one share gives no key');
  }

  const sim = () => node.sim.status().drives;
  const data = (slot: number) => Buffer.alloc(512, 0x50 + slot);
  for (const d of drives) node.sim.drives[d.slot]!.writeBlock(9, data(d.slot));

  t.test('power cycle with a peer up: unlocked through its share', async (t) => {
    await three.down();
    node.sim.powerCycle();
    const u = openUnlocker(node, { dak: access });
    const result = await u.service.round();
    await u.close();
    t.same(result.unlocked.sort(), drives.map((d) => d.driveID).sort());
    for (const d of drives) {
      t.notOk(sim()[d.slot]!.locked, `drive ${d.slot} unlocked`);
      t.same(node.sim.drives[d.slot]!.readBlock(9), data(d.slot), `drive ${d.slot} data intact`);
    }
  });

  t.test('power cycle with both peers down: locked, each peer named, then unlocked', async (t) => {
    await two.down();
    await three.down();
    node.sim.powerCycle();
    const u = openUnlocker(node, { dak: access });
    t.teardown(() => u.close());
    const result = await u.service.round();
    t.same(result.unlocked, [], 'nothing unlocked');
    t.equal(result.retry, true, 'tried again later: a peer may come back');
    for (const d of drives) {
      const why = result.failed.get(d.driveID)!;
      t.match(why, /drive-access key/);
      t.match(why, /node 2: .*ECONNREFUSED/);
      t.match(why, /node 3: .*ECONNREFUSED/);
      t.ok(sim()[d.slot]!.locked, `drive ${d.slot} stays locked`);
    }
    t.same(
      u.currentFaults('driveFailed')[0]?.driveIDs,
      drives.map((d) => d.driveID).sort(),
      'driveFailed names them',
    );
    await two.up();
    const again = await u.service.round();
    t.same(again.unlocked.sort(), drives.map((d) => d.driveID).sort(), 'node 2 back: unlocked');
    t.same(u.currentFaults('driveFailed'), [], 'and the fault resolved');
  });

  t.test('disable keeps the owner keys under the DAK; enable rekeys from them', async (t) => {
    await node.client.ok('DisableEncryptionAtRest');
    await peersReached(node, 'disabled');
    await waitForEarState(node, 'disabled');
    const owners = keyRecords(node).filter((r) => r.state === 'live');
    t.equal(owners.length, 2, 'an owner key per drive');
    t.ok(
      owners.every((r) => r.sealing === 'dak'),
      'owner keys sealed under the DAK',
    );
    await node.client.ok('EnableEncryptionAtRest');
    await peersReached(node, 'enabled');
    await waitForEarState(node, 'enabled');
    t.equal(splitKeyState(node.store)!.generation, state.generation, 'the same split kept');
    const listed = (await node.client.ok('ListDrives')).drives as Record<string, any>[];
    t.ok(
      listed.every(
        (d) => d.keyID && d.keyID !== drives.find((x) => x.driveID === d.driveID)?.keyID,
      ),
    );
    await checkPinsKnown(t, node, 'enabled again', access);
  });

  t.test('disable and enable once more, then the erase opens each drive as SID', async (t) => {
    await node.client.ok('DisableEncryptionAtRest');
    await peersReached(node, 'disabled');
    await waitForEarState(node, 'disabled');
    await checkPinsKnown(t, node, 'disabled again', access);
    await node.client.ok('EnableEncryptionAtRest');
    await peersReached(node, 'enabled');
    await waitForEarState(node, 'enabled');
    await node.settle();
    await checkPinsKnown(t, node, 'enabled a third time', access);
    await eraseAll(t, node);
  });
});

t.test('one active node: no split, AKs under the cluster sealer as before', async (t) => {
  const { node } = await earNodeWithAccess(t, 1);
  await node.client.ok('EnableEncryptionAtRest');
  await waitForEarState(node, 'enabled');
  t.equal(splitKeyState(node.store), undefined, 'no key split');
  const [r] = keyRecords(node);
  t.equal(r!.sealing, undefined, 'no marker');
  const ak = node.sealer.unseal(Buffer.from(r!.sealedKey!, 'base64'), sealLabel(r!.keyID));
  t.ok(checkMatches(ak, r!), 'the cluster sealer opens it');
});
