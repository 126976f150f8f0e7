// kmipServerFault when two parts of ekmd ask the same key server: boot unlock (the drives'
// AKs) and software EAR (the master key). The fault stands while either one's last finding
// at that server is a problem, names every such cause, and resolves only when both are
// clear: a master key served does not hide a destroyed AK, nor the other way round. A
// server no provider holds any more has its fault resolved when the records change.
import t from 'tap';
import { watchKeyServerCertificates } from '../../../src/cluster/boot-unlock/certificate-check';
import {
  SERVER_FINDINGS_PREFIX,
  reportServers,
  type ServerConcern,
} from '../../../src/cluster/key-servers/server-faults';
import {
  providerKey,
  serverKey,
  type KeyServerRecord,
} from '../../../src/cluster/key-servers/kmip-records';
import type { Json } from '../../../src/store/store';
import { makeCa } from '../pki';
import { storeWithFaults, waitFor } from '../boot-unlock/unlock-harness';

t.test('one kmipServerFault per server, shared by the AKs and the master key', async (t) => {
  const { store, faults } = await storeWithFaults(t, 'server-faults');
  const ca = makeCa('eks-ca', 365).certPem;
  const server: KeyServerRecord = {
    keyServerID: 1,
    keyProviderID: 1,
    kmipKeyServerName: 'eks',
    kmipKeyServerHostnames: ['127.0.0.1'],
    kmipKeyServerPort: 5696,
    kmipCaCertificate: ca,
    kmipClientCertificate: ca,
  };
  await store.transaction((tx) => {
    tx.put(providerKey(1), { keyProviderID: 1, keyProviderName: 'eks' });
    tx.put(serverKey(1), server as unknown as Json);
  });
  const report = (concern: ServerConcern, cause: string | null) =>
    store.transaction((tx) => reportServers(tx, faults, new Map([[1, cause]]), concern));
  const current = () => faults.list('current').filter((f) => f.code === 'kmipServerFault');

  t.test('a destroyed AK is not cleared by a master key served', async (t) => {
    await report('driveKeys', 'key k1 destroyed');
    await report('masterKey', null);
    const [fault, ...more] = current();
    t.same(more, []);
    t.match(
      fault?.details,
      /Key server eks \(127\.0\.0\.1:5696\) of key provider 1: key k1 destroyed$/,
    );
  });

  t.test('both causes named while both stand, in one fault updated in place', async (t) => {
    const id = current()[0]!.clusterFaultID;
    await report('masterKey', 'timed out');
    const [fault, ...more] = current();
    t.same(more, []);
    t.equal(fault?.clusterFaultID, id, 'the same fault');
    t.match(fault?.details, /: key k1 destroyed; timed out$/);
  });

  t.test('the AKs served again: the master key’s cause alone', async (t) => {
    await report('driveKeys', null);
    t.match(current()[0]?.details, /: timed out$/);
  });

  t.test('both clear: resolved, nothing kept', async (t) => {
    await report('masterKey', null);
    t.same(current(), []);
    t.same(store.list(SERVER_FINDINGS_PREFIX), [], 'no findings left');
  });

  t.test('a server removed from its provider: its fault resolves', async (t) => {
    const stop = watchKeyServerCertificates(store, faults);
    t.teardown(stop);
    await report('masterKey', 'connection refused');
    t.equal(current().length, 1);
    await store.transaction((tx) =>
      tx.put(serverKey(1), { ...server, keyProviderID: null } as unknown as Json),
    );
    await waitFor(() => current().length === 0);
    t.same(store.list(SERVER_FINDINGS_PREFIX), [], 'its findings forgotten');
  });
});
