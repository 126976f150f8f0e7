// A rekey onto a key server that cannot be reached: the async result completes with an
// error, nothing changes (the internal MK still wraps every DEK, the drives keep their
// DEKs, the provider stays inactive). Whether a Create reached the server is unknown, so
// the key is looked for by Name once the server is back; until then the next rekey is
// refused, saying why. The key server is faulted (kmipServerFault) until a request reaches it.
import t from 'tap';
import { KmipKeyServerTester } from '../../src/cluster/key-servers/kmip-tester';
import { addProvider, startStoppableDevEks } from '../cluster/sear/eks-setup';
import {
  awaitAsync,
  createCluster,
  readsBack,
  startSearNode,
  waitFor,
  writeEveryDrive,
} from '../cluster/sear/sear-node';

t.test('rekey onto an unreachable key server: rolled back, nothing changed', async (t) => {
  const node = await startSearNode(t, {
    drives: 2,
    tester: new KmipKeyServerTester({ connectTimeoutMs: 2000, requestTimeoutMs: 5000 }),
  });
  const kms = await startStoppableDevEks(t, node.dir);
  const { pki, port } = kms;
  await createCluster(node);
  await node.settle();
  writeEveryDrive(node);
  const { keyProviderID, keyServerID } = await addProvider(node, pki, port);
  const serverFaults = async () =>
    ((await node.client.ok('ListClusterFaults', { faultTypes: 'current' })).faults as any[]).filter(
      (f) => f.code === 'kmipServerFault',
    );
  const before = (await node.client.ok('GetSoftwareEncryptionAtRestInfo')).masterKeyInfo;
  await kms.stop();

  const { asyncHandle } = await node.client.ok('RekeySoftwareEncryptionAtRestMasterKey', {
    keyManagementType: 'External',
    keyProviderID,
  });
  const r = await awaitAsync(node, asyncHandle);
  t.equal(r.status, 'complete');
  t.notOk('result' in r);
  t.match(r.error, {
    name: 'xSoftwareEncryptionAtRestRekeyRolledBack',
    message: /ECONNREFUSED|connect/,
  });
  t.match(r.error.message, new RegExp(`master key ${before.keyID} still wraps every DEK`));
  const info = await node.client.ok('GetSoftwareEncryptionAtRestInfo');
  t.same(info.masterKeyInfo, before, 'the internal MK is still current');
  t.equal(info.rekeyMasterKeyAsyncResultID, asyncHandle);
  t.equal(
    (await node.client.ok('GetKeyProviderKmip', { keyProviderID })).kmipKeyProvider
      .keyProviderIsActive,
    false,
  );
  t.ok(readsBack(node), 'the drives kept their DEKs');
  const again = await node.client.call('RekeySoftwareEncryptionAtRestMasterKey', {
    keyManagementType: 'External',
    keyProviderID,
  });
  t.match(again.error, {
    name: 'xSoftwareEncryptionAtRestRekeyInProgress',
    message: /still being rolled back at key provider/,
  });
  const [fault, ...others] = await serverFaults();
  t.same(others, [], 'one kmipServerFault');
  t.match(fault, {
    details:
      /of key provider \d+: software encryption (master key create|rekey clean-up): .*ECONNREFUSED/,
    data: { keyServerID, keyProviderID },
  });

  await kms.start();
  await waitFor('the roll-back to finish at the key server', async () => {
    await node.settle();
    return (
      (await node.client.call('RekeySoftwareEncryptionAtRestMasterKey', {})).result !== undefined
    );
  });
  await node.settle();
  t.ok(readsBack(node), 'data readable after the next rekey');
  t.same(await serverFaults(), [], 'the fault resolved by the clean-up that reached the server');
});
