// Crash safety of a re-Enable (drives owned since a Disable, rekeyed from their owner keys):
// the process is killed at each step, including between the change of SID's PIN and
// Admin1's; the next start resumes every drive to both PINs its new AK, the owner keys
// go, and an erase (REVERT_TPR as SID) then succeeds on every drive.
import t from 'tap';
import { createCluster, startEarNode, waitForEarState } from '../cluster/hardware-ear/ear-node';
import {
  checkPinsKnown,
  DATA,
  disable,
  enable,
  eraseAll,
} from '../cluster/hardware-ear/pins-known';
import { runUntilCrash } from './crash-run';

const REKEY_POINTS = [
  'ear.afterRecord',
  'ear.afterSidRekey',
  'ear.afterTakeOwnership',
  'ear.afterRangeSetup',
  'ear.afterEnable',
];

for (const point of REKEY_POINTS) {
  t.test(`re-enable killed at ${point}: both PINs of every drive its AK`, async (t) => {
    const node = await startEarNode(t, { drives: 3 });
    await createCluster(node);
    for (const d of node.sim.drives) d.writeBlock(5, DATA);
    await enable(node);
    await disable(node);
    await node.close();
    const r = await runUntilCrash(node, 'enable', point);
    t.equal(r.signal, 'SIGKILL', `killed at ${point}${r.stderr ? `: ${r.stderr}` : ''}`);
    await node.open();
    await waitForEarState(node, 'enabled');
    await node.settle();
    for (const d of node.hw.drives.records()) {
      t.match(d, { security: 'enabled', step: null, ownerKeyID: null }, `drive ${d.slot}`);
      t.equal(node.sim.status().drives[d.slot]!.tries.sid, 0, `drive ${d.slot}: SID not locked`);
    }
    await checkPinsKnown(t, node, `resumed after ${point}`);
    await eraseAll(t, node);
  });
}
