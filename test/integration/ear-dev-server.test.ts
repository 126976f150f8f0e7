// Hardware EAR with the dev key server (`ekmctl kmip dev-server`'s engine) as the key server.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { DevKmipServer } from '../../src/kmip/server';
import { earAgainstEks } from '../cluster/hardware-ear/eks-flow';

t.test('hardware EAR with the dev key server', (t) =>
  earAgainstEks(t, async (dir, pki, port) => {
    const srv = await DevKmipServer.start({
      stateDir: dir,
      host: '127.0.0.1',
      port,
      ca: readFileSync(pki.ca, 'utf8'),
      cert: readFileSync(pki.server.cert, 'utf8'),
      key: readFileSync(pki.server.key, 'utf8'),
    });
    return { port: srv.address.port, stop: () => srv.close() };
  }),
);
