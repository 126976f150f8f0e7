// Software EAR with PyKMIP as the key server (Debian's python3-pykmip).
import t from 'tap';
import { startPykmip } from '../../scripts/pykmip/pykmip-server';
import { searAgainstEks } from '../cluster/sear/sear-flow';

t.test('software EAR with PyKMIP', (t) =>
  searAgainstEks(t, async (dir, pki, port) => {
    const kms = await startPykmip({
      dir,
      pki: { ca: pki.ca, server: pki.server, client: pki.client },
      port,
    });
    return { port: kms.port, stop: () => kms.stop(500) };
  }),
);
