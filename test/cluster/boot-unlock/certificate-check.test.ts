// kmipCertificateFault: a key server of an active provider whose CA or client certificate
// expires within 30 days, or has expired, has one current fault naming the certificate;
// replacing the certificate resolves it at once (the check follows key server changes);
// servers of providers no key refers to are not checked.
import t from 'tap';
import {
  checkKeyServerCertificates,
  watchKeyServerCertificates,
} from '../../../src/cluster/boot-unlock/certificate-check';
import {
  providerKey,
  serverKey,
  type KeyServerRecord,
} from '../../../src/cluster/key-servers/kmip-records';
import type { Json } from '../../../src/store/store';
import { makeCa } from '../pki';
import { storeWithFaults, waitFor } from './unlock-harness';

const DAY = 24 * 60 * 60 * 1000;

t.test('key server certificate expiry', async (t) => {
  const { store, faults } = await storeWithFaults(t, 'certs');
  const longCa = makeCa('eks-ca', 365).certPem;
  const shortClient = makeCa('storage-node-1', 10).certPem;
  const server = (keyServerID: number, keyProviderID: number, client: string): KeyServerRecord => ({
    keyServerID,
    keyProviderID,
    kmipKeyServerName: `eks-${keyServerID}`,
    kmipKeyServerHostnames: ['127.0.0.1'],
    kmipKeyServerPort: 5696,
    kmipCaCertificate: longCa,
    kmipClientCertificate: client,
  });
  const put = (record: KeyServerRecord) =>
    store.transaction((tx) => tx.put(serverKey(record.keyServerID), record as unknown as Json));
  await store.transaction((tx) => {
    tx.put(providerKey(1), { keyProviderID: 1, keyProviderName: 'active' });
    tx.put(providerKey(2), { keyProviderID: 2, keyProviderName: 'unused' });
    // Provider 1 is active: a live key refers to it.
    tx.put('keys/k1', { keyID: 'k1', keyProviderID: 1, state: 'live' });
  });
  await put(server(1, 1, shortClient));
  await put(server(2, 2, shortClient));
  const current = () => faults.list('current').filter((f) => f.code === 'kmipCertificateFault');

  t.test('expiring in 10 days → one fault for the active provider’s server', async (t) => {
    await checkKeyServerCertificates(store, faults);
    await checkKeyServerCertificates(store, faults);
    const [fault, ...more] = current();
    t.same(more, [], 'one fault, not one per check, none for the unused provider');
    t.match(fault, { severity: 'warning', type: 'cluster', data: { keyServerID: 1 } });
    t.match(fault!.details, /client certificate "CN=storage-node-1" expires on /);
    t.match(fault!.details, /ModifyKeyServerKmip/);
  });

  t.test('a year later both certificates have expired', async (t) => {
    await checkKeyServerCertificates(store, faults, new Date(Date.now() + 400 * DAY));
    const [fault] = current();
    t.match(
      fault!.details,
      /CA certificate "CN=eks-ca" expired on .*client certificate .* expired/,
    );
  });

  t.test('a replaced certificate resolves the fault without waiting a day', async (t) => {
    const stop = watchKeyServerCertificates(store, faults);
    t.teardown(stop);
    t.equal(current().length, 1, 'checked at start');
    await put(server(1, 1, makeCa('storage-node-1', 365).certPem));
    await waitFor(() => current().length === 0);
    t.equal(faults.list('resolved')[0]?.code, 'kmipCertificateFault', 'resolved, kept as history');
  });
});
