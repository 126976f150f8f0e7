// Boot unlock through real processes with the dev key server: ekmd, ekmd-sim and
// `ekmctl kmip dev-server`.
import t from 'tap';
import { powerCycleFlow } from './fixtures/boot-flow';
import { startDevKeyServer } from './fixtures/boot-rig';

t.test('power cycle, ekmd restarted: every drive unlocked, data intact', (t) =>
  powerCycleFlow(t, (dir, pki) => startDevKeyServer(t, dir, pki)),
);
