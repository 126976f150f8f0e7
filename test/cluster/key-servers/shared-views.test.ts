// ListKeyServersKmip's views are shared while nothing they show changes (the API keeps
// each view's JSON text by identity): a change to one server makes a new view of that
// server only, and a provider turning active makes new views of its servers only.
import t from 'tap';
import { KeyServerService } from '../../../src/cluster/key-servers/key-servers';
import { providerKey, serverKey } from '../../../src/cluster/key-servers/kmip-records';
import { storeWithKeyPair } from '../fixtures/store-with-key-pair';
import { makeCa, signCsr } from '../pki';

t.test('views are the same objects until what they show changes', async (t) => {
  const { store, keyPair } = await storeWithKeyPair(t, 'shared-views');
  const ca = makeCa('unit CA');
  const cert = signCsr(ca, keyPair.certificateSignRequest());
  const tester = { test: async () => ({ ok: true as const, kmipVersion: '1.4' }) };
  const servers = new KeyServerService(store, keyPair, tester);
  for (const name of ['a', 'b', 'c']) {
    await servers.create({
      kmipCaCertificate: ca.certPem,
      kmipClientCertificate: cert,
      kmipKeyServerHostnames: ['127.0.0.1'],
      kmipKeyServerName: name,
    });
  }
  const first = servers.list();
  t.same(
    first.map((v) => v.kmipKeyServerName),
    ['a', 'b', 'c'],
  );
  const same = (a: object[], b: object[]) => a.map((v, i) => v === b[i]);

  t.same(same(servers.list(), first), [true, true, true], 'a second list: the same views');

  await servers.modify({ keyServerID: 2, kmipKeyServerName: 'b2' });
  const afterModify = servers.list();
  t.same(same(afterModify, first), [true, false, true], 'only the modified server anew');
  t.equal(afterModify[1]!.kmipKeyServerName, 'b2');
  t.equal(servers.get(1), first[0], 'Get shares the view too');

  // Server 3 joins provider 7, then a key at provider 7 makes it active.
  await store.transaction((tx) => {
    tx.put(providerKey(7), { keyProviderID: 7, keyProviderName: 'p' });
    const record = tx.get<Record<string, unknown>>(serverKey(3))!.value;
    tx.put(serverKey(3), { ...record, keyProviderID: 7 } as never);
  });
  const assigned = servers.list();
  t.same(same(assigned, afterModify), [true, true, false], 'the assigned server anew');
  t.equal(assigned[2]!.kmipAssignedProviderIsActive, false);
  await store.transaction((tx) => {
    tx.put('keys/k1', { keyID: 'k1', keyProviderID: 7, state: 'live' });
  });
  const active = servers.list();
  t.same(same(active, assigned), [true, true, false], 'its provider turned active: anew');
  t.equal(active[2]!.kmipAssignedProviderIsActive, true);
  t.same(same(servers.list(), active), [true, true, true], 'and shared again after');

  await servers.delete(1);
  const afterDelete = servers.list();
  t.equal(afterDelete.length, 2);
  t.same(same(afterDelete, active.slice(1)), [true, true], 'the others kept');
});
