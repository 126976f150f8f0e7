// Element's documented SEAR procedure against a real KMIP server, whichever runs it:
// CreateCluster with SEAR → data on every drive → rekey internal → external → GetAsyncResult
// until complete (Element's example shape) → GetSoftwareEncryptionAtRestInfo shows the
// external key, its provider and the rekey's handle; the provider is active → restart and
// power cycle → data readable → rekey external → internal → the external MK is revoked and
// destroyed at the EKS, the provider inactive → data readable. No MK or DEK byte leaks.
import type { Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDevPki } from '../../../scripts/pki/dev-pki';
import { KmipKeyServerTester } from '../../../src/cluster/key-servers/kmip-tester';
import { unwrapKey } from '../../../src/cluster/sear/key-wrap';
import { unsealInternalKey } from '../../../src/cluster/sear/master-keys';
import type { StartEks } from '../hardware-ear/eks-flow';
import { addProvider, eksClient, mkName } from './eks-setup';
import {
  awaitAsync,
  createCluster,
  readsBack,
  startSearNode,
  writeEveryDrive,
  type SearNode,
} from './sear-node';

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

export async function searAgainstEks(t: Test, startEks: StartEks): Promise<void> {
  const node = await startSearNode(t, {
    drives: 3,
    tester: new KmipKeyServerTester({ connectTimeoutMs: 2000, requestTimeoutMs: 5000 }),
  });
  const pki = await makeDevPki(join(node.dir, 'pki'));
  const kms = await startEks(join(node.dir, 'eks'), pki, 0);
  t.teardown(() => kms.stop());
  const eks = eksClient(pki, kms.port);
  t.teardown(() => eks.close());

  await createCluster(node);
  await node.settle();
  const first = (await node.client.ok('GetSoftwareEncryptionAtRestInfo')).masterKeyInfo;
  t.equal(first.keyManagementType, 'internal');
  const internalMk = mkOf(node, first.keyID);
  writeEveryDrive(node);
  const { keyProviderID } = await addProvider(node, pki, kms.port);
  const uuid = (await node.client.ok('GetClusterInfo')).clusterInfo.uuid as string;
  const providerActive = async () =>
    (await node.client.ok('GetKeyProviderKmip', { keyProviderID })).kmipKeyProvider
      .keyProviderIsActive;
  t.equal(await providerActive(), false, 'the provider is inactive before the rekey');

  // Element's example writes the type in lowercase.
  const { asyncHandle } = await node.client.ok('RekeySoftwareEncryptionAtRestMasterKey', {
    keyManagementType: 'external',
    keyProviderID,
  });
  const done = await awaitAsync(node, asyncHandle);
  t.same(Object.keys(done).sort(), [
    'createTime',
    'lastUpdateTime',
    'result',
    'resultType',
    'status',
  ]);
  t.match(done, {
    createTime: TIME,
    lastUpdateTime: TIME,
    resultType: 'RekeySoftwareEncryptionAtRestMasterKey',
    status: 'complete',
  });
  const newKeyID = done.result.newKey.keyID as string;
  t.same(done.result, {
    keyToDecommission: { keyID: first.keyID, keyManagementType: 'internal' },
    newKey: { keyID: newKeyID, keyManagementType: 'external', keyProviderID },
    operation: `Rekeying Master Key. Master Key management being transferred from Internal Key Management to External Key Management with keyProviderID=${keyProviderID}`,
    state: 'Ready',
  });
  const info = await node.client.ok('GetSoftwareEncryptionAtRestInfo');
  t.same(Object.keys(info), ['masterKeyInfo', 'rekeyMasterKeyAsyncResultID', 'state', 'version']);
  t.match(info, {
    masterKeyInfo: { keyID: newKeyID, keyManagementType: 'external', keyProviderID },
    rekeyMasterKeyAsyncResultID: asyncHandle,
    state: 'enabled',
    version: 1,
  });
  t.equal(await providerActive(), true, 'the provider holding the MK is active');
  t.equal(
    (await node.client.call('DeleteKeyProviderKmip', { keyProviderID })).error?.name,
    'xKeyProviderIsActive',
  );
  const [uid, ...more] = await eks.locate({ names: [mkName(uuid, newKeyID)] });
  t.ok(uid, 'the MK is at the EKS under its Name');
  t.same(more, []);
  const externalMk = (await eks.get(uid!)).material;
  t.equal(externalMk.length, 32, 'an AES-256 key');
  t.same(unwrapDeks(node, externalMk).length, 3, 'the EKS key unwraps every DEK');
  t.ok(readsBack(node), 'data readable during the whole rekey');

  await node.close();
  node.sim.powerCycle();
  await node.open();
  await node.settle();
  t.ok(readsBack(node), 'after restart and power cycle: MK fetched, DEKs attached');

  const back = await node.client.ok('RekeySoftwareEncryptionAtRestMasterKey', {
    keyManagementType: 'Internal',
  });
  const backDone = await awaitAsync(node, back.asyncHandle);
  t.match(backDone.result, {
    keyToDecommission: { keyID: newKeyID, keyManagementType: 'external', keyProviderID },
    newKey: { keyManagementType: 'internal' },
    operation: `Rekeying Master Key. Master Key management being transferred from External Key Management with keyProviderID=${keyProviderID} to Internal Key Management`,
    state: 'Ready',
  });
  t.notOk('keyProviderID' in backDone.result.newKey);
  await t.rejects(eks.get(uid!), /Item Not Found|destroyed|not found/i, 'old MK destroyed');
  t.equal(await providerActive(), false, 'the provider is inactive again');
  const last = (await node.client.ok('GetSoftwareEncryptionAtRestInfo')).masterKeyInfo;
  t.same(Object.keys(last), ['keyCreatedTime', 'keyID', 'keyManagementType']);
  await node.close();
  node.sim.powerCycle();
  await node.open();
  await node.settle();
  t.ok(readsBack(node), 'data readable under the new internal key');

  // No key material anywhere: logs, API replies, the store's files.
  const finalMk = mkOf(node, last.keyID);
  const secrets = [internalMk, externalMk, finalMk, ...unwrapDeks(node, finalMk)];
  await node.close();
  const files = ['ekmd.db', 'ekmd.db-wal']
    .map((f) => {
      try {
        return readFileSync(join(node.dir, f));
      } catch {
        return Buffer.alloc(0);
      }
    })
    .concat(Buffer.from(node.transcript()));
  for (const [i, s] of secrets.entries()) {
    const forms = [s, Buffer.from(s.toString('hex')), Buffer.from(s.toString('base64'))];
    t.notOk(
      files.some((f) => forms.some((form) => f.includes(form))),
      `secret ${i} appears nowhere in plaintext, hex or base64`,
    );
  }
  for (const s of secrets) s.fill(0);
}

function mkOf(node: SearNode, keyID: string): Buffer {
  return unsealInternalKey(node.sealer, node.store.get<any>(`keys/${keyID}`)!.value);
}

function unwrapDeks(node: SearNode, mk: Buffer): Buffer[] {
  return node.store
    .list<any>('sear/deks/')
    .map((e) => unwrapKey(mk, Buffer.from(e.value.wrapped, 'base64'), e.value.serial));
}
