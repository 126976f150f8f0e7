// The daemon checks the key servers' certificates at start: a client certificate of a key
// server in an active provider that expires within 30 days is a kmipCertificateFault in
// ListClusterFaults as soon as the API answers. The check is the cluster master's: the
// cluster exists, so this node (node 1) is elected and runs it.
import t from 'tap';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ClusterService } from '../../src/cluster/cluster-info';
import { providerKey, serverKey } from '../../src/cluster/key-servers/kmip-records';
import { startDaemon } from '../../src/daemon/boot';
import { parseConfig } from '../../src/daemon/config';
import { createLogger } from '../../src/daemon/log';
import { openSqliteStore, STORE_FILE } from '../../src/store';
import { makeCa } from '../cluster/pki';
import { BOOTSTRAP, rpc, workdir } from './ekmd-process';

t.test('kmipCertificateFault at start', async (t) => {
  const w = workdir(t);
  mkdirSync(w.stateDir, { mode: 0o700 });
  const store = openSqliteStore(join(w.stateDir, STORE_FILE));
  await new ClusterService(store).create({
    acceptEula: true,
    mvip: '127.0.0.1',
    svip: '127.0.0.1',
    nodes: ['127.0.0.1'],
    ...BOOTSTRAP,
  });
  await store.transaction((tx) => {
    tx.put(providerKey(1), { keyProviderID: 1, keyProviderName: 'eks' });
    tx.put('keys/k1', { keyID: 'k1', keyProviderID: 1, state: 'live' });
    tx.put(serverKey(1), {
      keyServerID: 1,
      keyProviderID: 1,
      kmipKeyServerName: 'eks-1',
      kmipKeyServerHostnames: ['127.0.0.1'],
      kmipKeyServerPort: 5696,
      kmipCaCertificate: makeCa('eks-ca', 365).certPem,
      kmipClientCertificate: makeCa('storage-node-1', 5).certPem,
    });
  });
  await store.close();
  const config = parseConfig(
    {
      stateDir: 'state',
      api: { listen: '127.0.0.1:0', tls: { cert: 'api.crt', key: 'api.key' } },
      admin: BOOTSTRAP,
      drives: { backend: 'sim', sim: { socket: 'sim.sock' } },
    },
    { source: 'test', baseDir: w.dir },
  );
  const quiet = createLogger('info', new Writable({ write: (_c, _e, done) => done() }));
  const daemon = await startDaemon(config, quiet, {});
  t.teardown(() => daemon.close());
  const { body } = await rpc(daemon.api.port, w.ca, BOOTSTRAP, 'ListClusterFaults', {
    faultTypes: 'current',
  });
  const faults = (JSON.parse(body) as { result: { faults: Record<string, any>[] } }).result.faults;
  t.equal(faults.length, 1);
  t.match(faults[0], {
    code: 'kmipCertificateFault',
    severity: 'warning',
    data: { keyServerID: 1, keyProviderID: 1 },
    details: /client certificate "CN=storage-node-1" expires on /,
  });
});
