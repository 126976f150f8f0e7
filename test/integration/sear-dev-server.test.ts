// Software EAR with the development KMIP server: Element's rekey procedure end to end.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { DevKmipServer } from '../../src/kmip/server';
import { searAgainstEks } from '../cluster/sear/sear-flow';

t.test('software EAR with the dev key server', (t) =>
  searAgainstEks(t, async (dir, pki, port) => {
    const read = (p: string) => readFileSync(p, 'utf8');
    const kms = await DevKmipServer.start({
      stateDir: dir,
      host: '127.0.0.1',
      port,
      ca: read(pki.ca),
      cert: read(pki.server.cert),
      key: read(pki.server.key),
    });
    return { port: kms.address.port, stop: () => kms.close() };
  }),
);
