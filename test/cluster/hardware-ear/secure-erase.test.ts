// SecureEraseDrives against the real simulator: a never-owned drive, a drive under
// hardware EAR (its key retired), a drive owned by someone else (one attempt, a clear
// reason), and parameter errors that change nothing.
import t from 'tap';
import type { DriveKeyRecord } from '../../../src/cluster/drive-keys/drive-keys';
import { createCluster, startEarNode, waitForEarState } from './ear-node';

t.test('SecureEraseDrives', async (t) => {
  const node = await startEarNode(t, { drives: 4 });
  await createCluster(node);
  const list = async () => (await node.client.ok('ListDrives')).drives as Record<string, any>[];
  const bySlot = async (slot: number) => (await list()).find((d) => d.slot === slot)!;
  const pattern = Buffer.alloc(512, 0x5a);
  for (const d of node.sim.drives) d.writeBlock(7, pattern);
  const erase = async (driveIDs: number[]) => {
    const { asyncHandle } = await node.client.ok('SecureEraseDrives', { drives: driveIDs });
    await node.settle();
    return node.client.ok('GetAsyncResult', { asyncHandle });
  };

  // Drive 3 belongs to someone else; drive 0 is added (active) so it cannot be erased.
  await node.opal(3).takeOwnership(Buffer.from('someone-elses-pin'));
  await node.client.ok('AddDrives', { drives: [{ driveID: (await bySlot(0)).driveID }] });
  await node.settle();

  t.test('parameter errors change nothing', async (t) => {
    const before = node.snapshot();
    const cases: [unknown, string][] = [
      [undefined, 'xMissingParameter'],
      [[], 'xInvalidParameter'],
      [[99], 'xDriveIDDoesNotExist'],
      [[(await bySlot(0)).driveID], 'xDriveNotAvailable'],
      [[2, 2], 'xInvalidParameter'],
    ];
    for (const [drives, name] of cases) {
      const reply = await node.client.call('SecureEraseDrives', drives ? { drives } : {});
      t.equal(reply.error?.name, name, JSON.stringify(drives));
    }
    t.equal(node.snapshot(), before);
  });

  t.test('a never-owned drive: owned with a throwaway key, reverted, data gone', async (t) => {
    const d = await bySlot(1);
    const r = await erase([d.driveID]);
    t.match(r, {
      status: 'complete',
      resultType: 'DriveSecureErase',
      result: { driveIDs: [d.driveID] },
    });
    t.notSame(node.sim.drives[1]!.readBlock(7), pattern, 'data gone');
    t.equal(node.sim.status().drives[1]!.lsp, 'manufactured-inactive');
    t.equal((await bySlot(1)).status, 'available');
    const live = node.store
      .list<DriveKeyRecord>('keys/')
      .filter((e) => e.value.state !== 'destroyed');
    t.same(live, [], 'the throwaway key is retired');
  });

  t.test('a drive under EAR: erased, its AK retired, then it can be added again', async (t) => {
    await node.client.ok('EnableEncryptionAtRest');
    await waitForEarState(node, 'enabled');
    const d = await bySlot(2);
    t.ok(d.keyID);
    const r = await erase([d.driveID]);
    t.equal(r.status, 'complete');
    t.notOk(r.error);
    t.notSame(node.sim.drives[2]!.readBlock(7), pattern, 'data gone');
    t.notOk('keyID' in (await bySlot(2)));
    t.equal(node.store.get<DriveKeyRecord>(`keys/${d.keyID}`)!.value.state, 'destroyed');
    const { asyncHandle } = await node.client.ok('AddDrives', { drives: [{ driveID: d.driveID }] });
    await node.settle();
    t.equal((await node.client.ok('GetAsyncResult', { asyncHandle })).status, 'complete');
    const added = await bySlot(2);
    t.equal(added.status, 'active');
    t.ok(added.keyID && added.keyID !== d.keyID, 'secured again with a new AK');
  });

  t.test('a drive owned elsewhere: refused with the reason, never tried again', async (t) => {
    const d = await bySlot(3);
    const sidTries = node.sim.status().drives[3]!.tries.sid;
    const r = await erase([d.driveID]);
    t.equal(r.error?.name, 'xSecureEraseFailed');
    t.match(r.error?.message, /PSID revert needed/);
    t.same(node.sim.drives[3]!.readBlock(7), pattern, 'nothing erased');
    t.equal(node.sim.status().drives[3]!.tries.sid, sidTries, 'no new ownership attempt');
    t.equal((await bySlot(3)).status, 'available');
  });
});
