// The API on etcd when etcd is gone: a call that must write answers xClusterStoreUnavailable
// (naming the endpoint) within the store's deadline, never hangs and changes nothing; once
// etcd is back the same call succeeds.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEtcd } from '../../scripts/etcd/members';
import { startApiServer } from '../../src/api';
import { openSealer } from '../../src/store';
import { openEtcdStore } from '../../src/store/etcd';
import { API_CERT_FILE } from '../../src/store/state-files';
import { ElementClient } from './element-client';
import { ContactRecorder } from './fixtures';
import { BOOTSTRAP } from './node';

t.test('a write during an etcd outage is refused clearly; after it, it works', async (t) => {
  const etcd = await startEtcd(t);
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-api-'));
  const store = await openEtcdStore(
    { endpoints: etcd.endpoints, prefix: '/outage/' },
    { create: true, requestTimeoutMs: 2_000 },
  );
  const api = await startApiServer({
    store,
    sealer: openSealer({ stateDir: dir }),
    listen: { host: '127.0.0.1', port: 0 },
    stateDir: dir,
    bootstrapAdmin: BOOTSTRAP,
    tester: new ContactRecorder(),
  });
  const ca = readFileSync(join(dir, API_CERT_FILE), 'utf8');
  const client = new ElementClient(api.address.port, ca, BOOTSTRAP.username, BOOTSTRAP.password);
  t.teardown(async () => {
    client.close();
    await api.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await client.ok('CreateCluster', {
    acceptEula: true,
    mvip: '10.0.0.10',
    svip: '10.0.1.10',
    nodes: ['10.0.1.1'],
    username: 'admin',
    password: 'cluster-admin-pw',
  });
  client.username = 'admin';
  client.password = 'cluster-admin-pw';
  const before = JSON.stringify(store.list('cluster/'));

  await etcd.kill(0);
  const started = Date.now();
  const reply = await client.call('CreatePublicPrivateKeyPair', { commonName: 'c1' });
  t.comment(`answered in ${Date.now() - started} ms with etcd down`);
  t.equal(reply.error?.name, 'xClusterStoreUnavailable', JSON.stringify(reply));
  t.match(reply.error?.message, /127\.0\.0\.1:\d+/, 'names the endpoint');
  t.match(reply.error?.message, /retry once it is back/);
  t.equal(
    (await client.call('GetClusterInfo')).result?.clusterInfo.mvip,
    '10.0.0.10',
    'reads still answer from the view',
  );

  await etcd.restart(0);
  t.equal(JSON.stringify(store.list('cluster/')), before, 'nothing was written');
  const again = await client.call('CreatePublicPrivateKeyPair', { commonName: 'c1' });
  t.same(again.result, {}, JSON.stringify(again.error));
});
