// Boot unlock through real processes with PyKMIP (Debian's python3-pykmip) as the key
// server: ekmd, ekmd-sim and PyKMIP.
import t from 'tap';
import { powerCycleFlow } from './fixtures/boot-flow';
import { startPykmipServer } from './fixtures/boot-rig';

t.test('PyKMIP: power cycle, ekmd restarted: every drive unlocked, data intact', (t) =>
  powerCycleFlow(t, (dir, pki) => startPykmipServer(t, dir, pki)),
);
