// Drives left erasing by a previous process, at the next start: one journaled `erasing` (the
// SecureEraseDrives transaction committed, nothing sent to the drive yet) is erased by
// hardware EAR's recovery and made available; one an older store left erasing without a
// journal is made available as before, untouched.
import t from 'tap';
import { getDrive, putDrive } from '../../../src/cluster/drives/drive-records';
import { createCluster, startEarNode } from '../hardware-ear/ear-node';

t.test('erasing drives at start', async (t) => {
  const node = await startEarNode(t, { drives: 3 });
  await createCluster(node);
  const pattern = Buffer.alloc(512, 0x77);
  for (const d of node.sim.drives) d.writeBlock(5, pattern);
  const [, journaled, unjournaled] = node.hw.drives.records();
  await node.store.transaction((tx) => {
    putDrive(tx, { ...journaled!, status: 'erasing', step: 'erasing' });
    putDrive(tx, { ...unjournaled!, status: 'erasing' });
  });
  await node.restart();
  await node.settle();

  const erased = getDrive(node.store, journaled!.driveID);
  t.match(erased, { status: 'available', step: null, security: 'none', ownerKeyID: null });
  t.notSame(node.sim.drives[journaled!.slot]!.readBlock(5), pattern, 'the journaled one is erased');
  t.equal(node.sim.status().drives[journaled!.slot]!.lsp, 'manufactured-inactive');

  const left = getDrive(node.store, unjournaled!.driveID);
  t.match(left, { status: 'available', step: null });
  t.same(node.sim.drives[unjournaled!.slot]!.readBlock(5), pattern, 'the other is untouched');
  t.same(node.sim.drives[0]!.readBlock(5), pattern, 'so is a drive nobody erased');
});
