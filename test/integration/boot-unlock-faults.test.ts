// Boot unlock without its key server, through real processes (ekmd, ekmd-sim, the dev key
// server): Element's faults are raised once, the drives stay locked, the API answers; when
// the key server is back the drives unlock and the faults resolve.
import t from 'tap';
import { leftLockedLines, poweredOffNode } from './fixtures/boot-flow';
import { faults, lockedCount, waitUntil, type Fault } from './fixtures/boot-rig';

const ids = (fs: Fault[]) => fs.map((f) => f.clusterFaultID).sort((a, b) => a - b);

t.test(
  'key server down at boot: faults raised, drives locked, API up; back: unlocked, resolved',
  async (t) => {
    const { node, servers, drives, keyProviderID } = await poweredOffNode(t, 4);
    const kms = servers[0]!;
    await kms.stop();
    const ekmd = await node.start();
    const api = ekmd.client;
    await waitUntil('kmipServerFault and driveFailed', async () => {
      const codes = (await faults(api)).map((f) => f.code);
      return codes.includes('kmipServerFault') && codes.includes('driveFailed');
    });
    const raised = await faults(api);
    const kmip = raised.filter((f) => f.code === 'kmipServerFault');
    t.equal(kmip.length, 1, 'one kmipServerFault for the one key server');
    t.match(kmip[0]!.details, /kms1 \(127\.0\.0\.1:\d+\)/, 'details name the key server');
    t.match(kmip[0]!.data, { keyProviderID });
    const failed = raised.filter((f) => f.code === 'driveFailed');
    t.equal(failed.length, 1, 'one driveFailed for the node');
    t.equal(failed[0]!.nodeID, 1);
    t.same(
      failed[0]!.driveIDs,
      drives.map((d) => d.driveID).sort((a, b) => a - b),
      'driveFailed lists every drive',
    );
    t.equal(failed[0]!.details, 'Node ID 1 has 4 failed drive(s).');
    t.equal(await lockedCount(node.sim), 4, 'drives still locked');
    const info = (await api.ok('GetClusterInfo')).clusterInfo as Record<string, unknown>;
    t.equal(info.encryptionAtRestState, 'enabled', 'the API answers while the keys are missing');

    await kms.restart();
    await waitUntil('every drive unlocked', async () => (await lockedCount(node.sim)) === 0);
    await waitUntil('no current fault', async () => (await faults(api)).length === 0);
    const resolved = await faults(api, 'resolved');
    t.same(ids(resolved), ids(raised), 'the raised faults are now resolved');
    t.ok(
      resolved.every((f) => f.resolved),
      'marked resolved',
    );
    t.ok(
      (await node.sim.status()).every((d) => d.tries.admin1 === 0),
      'no PIN retry was spent while waiting',
    );
    await ekmd.stop();
  },
);

t.test('many retry rounds without key servers: one fault per code and subject', async (t) => {
  const ROUNDS = 10;
  const { node, servers } = await poweredOffNode(t, 3, 2);
  for (const s of servers) await s.stop();
  const ekmd = await node.start();
  await waitUntil(
    `${ROUNDS} unlock rounds`,
    () => leftLockedLines(ekmd.output()) >= ROUNDS * 3,
    120_000,
  );
  const all = await faults(ekmd.client, 'all');
  const kmip = all.filter((f) => f.code === 'kmipServerFault');
  t.equal(kmip.length, 2, 'one kmipServerFault per key server, none repeated');
  t.not(kmip[0]!.data.keyServerID, kmip[1]!.data.keyServerID, 'one per key server');
  t.equal(all.filter((f) => f.code === 'driveFailed').length, 1, 'one driveFailed for the node');
  t.equal(all.length, 3, 'nothing else, and no resolved-then-raised copies');
  t.ok(
    all.every((f) => !f.resolved),
    'all current',
  );
  t.equal(await lockedCount(node.sim), 3, 'drives still locked');

  // Cleared while the cause persists: raised again, once, with new IDs.
  await ekmd.client.ok('ClearClusterFaults', { faultTypes: 'current' });
  const before = Math.max(...ids(all));
  await waitUntil('faults raised again', async () => (await faults(ekmd.client)).length === 3);
  const rounds = leftLockedLines(ekmd.output());
  await waitUntil('three more rounds', () => leftLockedLines(ekmd.output()) >= rounds + 9, 120_000);
  const again = await faults(ekmd.client, 'all');
  t.equal(again.length, 3, 'the cleared faults are gone; one new fault per code and subject');
  t.ok(
    again.every((f) => f.clusterFaultID > before),
    'raised again with new IDs',
  );
  await ekmd.stop();
});
