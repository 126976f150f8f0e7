// A node's hardware-EAR work over several drives puts the split drive-access key (DAK)
// together once for the whole of it, not once per drive: each time is a peer's share
// fetched over the node link and a Shamir combine. Counted at the peers' share servers
// (real ones on loopback) while node 1 works on its four drives of the real simulator.
import t from 'tap';
import type { DriveKeyRecord } from '../../../src/cluster/drive-keys/drive-keys';
import { waitForEarState, type EarNode } from './ear-node';
import { earNodeWithAccess, peersReached } from './split-key-node';

/** Node 1 with four drives, peers 2 and 3 serving their shares, and what they served. */
async function fourDrives(t: Parameters<typeof earNodeWithAccess>[0]) {
  const { node, peer } = await earNodeWithAccess(t, 4);
  const peers = [await peer(2), await peer(3)];
  const served = () => peers.reduce((sum, p) => sum + p.served(), 0);
  /** The share requests the peers answered during `work` and the work it left queued. */
  const during = async (work: () => Promise<void>) => {
    const before = served();
    await work();
    await node.settle();
    return served() - before;
  };
  return { node, during };
}

async function reachEar(node: EarNode, method: string, target: 'enabled' | 'disabled') {
  await node.client.ok(method);
  await peersReached(node, target);
  await waitForEarState(node, target);
}

const liveKeys = (node: EarNode) =>
  node.store
    .list<DriveKeyRecord>('keys/')
    .map((e) => e.value)
    .filter((r) => r.state === 'live');

t.test('enable, disable, enable again: one share request each', async (t) => {
  const { node, during } = await fourDrives(t);
  const enabled = await during(() => reachEar(node, 'EnableEncryptionAtRest', 'enabled'));
  t.equal(liveKeys(node).length, 4, 'four AKs');
  t.ok(
    liveKeys(node).every((r) => r.sealing === 'dak'),
    'all sealed under the DAK',
  );
  t.equal(enabled, 1, 'enable: one share request');

  const disabled = await during(() => reachEar(node, 'DisableEncryptionAtRest', 'disabled'));
  const owners = liveKeys(node);
  t.equal(owners.length, 4, 'an owner key per drive');
  t.ok(
    owners.every((r) => r.sealing === 'dak'),
    'owner keys sealed under the DAK',
  );
  t.ok(
    node.sim.status().drives.every((d) => !d.locked),
    'every drive opened',
  );
  t.equal(disabled, 1, 'disable (four AKs opened, four owner keys sealed): one share request');

  const reenabled = await during(() => reachEar(node, 'EnableEncryptionAtRest', 'enabled'));
  const drives = (await node.client.ok('ListDrives')).drives as { keyID: string }[];
  t.ok(
    drives.every((d) => d.keyID && !owners.some((o) => o.keyID === d.keyID)),
    'each drive under a new AK, rekeyed from its owner key',
  );
  t.equal(reenabled, 1, 'enable again (four rekeys from owner keys): one share request');
});

t.test('secure erase of four drives under enabled EAR: one share request', async (t) => {
  const { node, during } = await fourDrives(t);
  await reachEar(node, 'EnableEncryptionAtRest', 'enabled');
  const drives = (await node.client.ok('ListDrives')).drives as { driveID: number }[];
  t.equal(drives.length, 4);
  const erased = await during(async () => {
    const { asyncHandle } = await node.client.ok('SecureEraseDrives', {
      drives: drives.map((d) => d.driveID),
    });
    await node.settle();
    t.match(await node.client.ok('GetAsyncResult', { asyncHandle }), {
      status: 'complete',
      result: { driveIDs: drives.map((d) => d.driveID) },
    });
  });
  t.same(liveKeys(node), [], 'every AK retired');
  t.equal(erased, 1, 'four AKs opened: one share request');
});
