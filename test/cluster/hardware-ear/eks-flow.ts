// Hardware EAR with AKs at a real KMIP server over mutual TLS, whichever server runs it:
// enable (with the server down at first) registers every drive's AK under its Name, the
// drives lock with them, the provider turns active; SecureEraseDrives and disable destroy
// the AKs at the server.
import type { Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDevPki, type DevPki } from '../../../scripts/pki/dev-pki';
import { KmipKeyServerTester } from '../../../src/cluster/key-servers/kmip-tester';
import { KmipClient } from '../../../src/kmip/client';
import { OpalUser } from '../../../src/opal/abi';
import { caFromPem, signCsr } from '../pki';
import { createCluster, startEarNode, waitForEarState } from './ear-node';
import { checkPinsKnown, disable, enable, eraseAll } from './pins-known';

export interface RunningEks {
  port: number;
  stop(): Promise<void>;
}

/** Starts the key server in `dir` (its state survives a restart there) on `port` (0: free). */
export type StartEks = (dir: string, pki: DevPki, port: number) => Promise<RunningEks>;

export async function earAgainstEks(t: Test, startEks: StartEks): Promise<void> {
  const node = await startEarNode(t, {
    drives: 3,
    tester: new KmipKeyServerTester({ connectTimeoutMs: 2000, requestTimeoutMs: 5000 }),
  });
  const pkiFiles = await makeDevPki(join(node.dir, 'pki'));
  let kms = await startEks(join(node.dir, 'eks'), pkiFiles, 0);
  t.teardown(() => kms.stop());
  const read = (p: string) => readFileSync(p, 'utf8');
  // The cluster and the dev client certificate share CN storage-node-1: the same owner.
  const eks = new KmipClient({
    hostnames: ['127.0.0.1'],
    port: kms.port,
    ca: read(pkiFiles.ca),
    cert: read(pkiFiles.client.cert),
    key: read(pkiFiles.client.key),
  });
  t.teardown(() => eks.close());

  await createCluster(node);
  const { client } = node;
  await client.ok('CreatePublicPrivateKeyPair', { commonName: 'storage-node-1' });
  const csr = (await client.ok('GetClientCertificateSignRequest')).clientCertificateSignRequest;
  const ca = caFromPem(read(pkiFiles.ca), read(join(pkiFiles.dir, 'ca-key.pem')));
  const { keyServerID } = (
    await client.ok('CreateKeyServerKmip', {
      kmipCaCertificate: ca.certPem,
      kmipClientCertificate: signCsr(ca, csr),
      kmipKeyServerHostnames: ['127.0.0.1'],
      kmipKeyServerName: 'pykmip',
      kmipKeyServerPort: kms.port,
    })
  ).kmipKeyServer;
  const { keyProviderID } = (await client.ok('CreateKeyProviderKmip', { keyProviderName: 'eks' }))
    .kmipKeyProvider;
  await client.ok('AddKeyServerToProviderKmip', { keyProviderID, keyServerID });
  const uuid = (await client.ok('GetClusterInfo')).clusterInfo.uuid as string;
  const list = async () => (await client.ok('ListDrives')).drives as Record<string, any>[];
  const providerActive = async () =>
    (await client.ok('GetKeyProviderKmip', { keyProviderID })).kmipKeyProvider.keyProviderIsActive;

  t.test('enable: AKs at the EKS under their Name, drives locked with them', async (t) => {
    t.equal(await providerActive(), false);
    // The EKS is down when Enable starts: it waits, retrying, and touches no drive.
    await kms.stop();
    await client.ok('EnableEncryptionAtRest', { keyProviderID });
    await new Promise((r) => setTimeout(r, 1000));
    t.equal((await client.ok('GetClusterInfo')).clusterInfo.encryptionAtRestState, 'enabling');
    t.notOk(
      (await list()).some((d) => d.keyID),
      'no drive touched while the EKS is unreachable',
    );
    t.ok(node.sim.status().drives.every((d) => d.lsp === 'manufactured-inactive'));
    kms = await startEks(join(node.dir, 'eks'), pkiFiles, kms.port);
    await waitForEarState(node, 'enabled', 30_000);
    t.same(await client.ok('GetEncryptionAtRestInfo'), {
      authenticationKeyInfo: { keyManagementType: 'external', keyProviderID },
      state: 'enabled',
    });
    t.equal(await providerActive(), true);
    node.sim.powerCycle();
    for (const d of await list()) {
      t.equal(d.keyProviderID, keyProviderID);
      const name = `ekmd-AK cluster=${uuid} serial=${d.serial} keyID=${d.keyID}`;
      const uids = await eks.locate({ names: [name] });
      t.equal(uids.length, 1, `one AK named for drive ${d.driveID}`);
      const inGroup = await eks.locate({ objectGroups: [`ekmd-cluster-${uuid}`] });
      t.ok(inGroup.includes(uids[0]!), 'in the cluster object group');
      const ak = (await eks.get(uids[0]!)).material;
      t.equal(ak.length, 32);
      t.ok(node.sim.status().drives[d.slot]!.locked, 'locked after the power cycle');
      await node.opal(d.slot).unlock({ who: OpalUser.ADMIN1, pin: ak }, 0);
      t.notOk(node.sim.status().drives[d.slot]!.locked, 'the AK at the EKS unlocks it');
    }
  });

  t.test('SecureEraseDrives: data gone, the AK destroyed at the EKS', async (t) => {
    const d = (await list())[0]!;
    const name = `ekmd-AK cluster=${uuid} serial=${d.serial} keyID=${d.keyID}`;
    const [uid] = await eks.locate({ names: [name] });
    node.sim.drives[d.slot]!.writeBlock(3, Buffer.alloc(512, 0x77));
    const { asyncHandle } = await client.ok('SecureEraseDrives', { drives: [d.driveID] });
    await node.settle();
    t.equal((await client.ok('GetAsyncResult', { asyncHandle })).status, 'complete');
    t.notSame(node.sim.drives[d.slot]!.readBlock(3), Buffer.alloc(512, 0x77), 'data gone');
    await t.rejects(eks.get(uid!), /Item Not Found/, 'AK destroyed');
    t.notOk('keyID' in (await list())[0]!);
  });

  t.test('the provider cannot be deleted while its AKs are in use', async (t) => {
    const reply = await client.call('DeleteKeyProviderKmip', { keyProviderID });
    t.equal(reply.error?.name, 'xKeyProviderIsActive');
  });

  t.test('disable: locking off, AKs revoked and destroyed at the EKS', async (t) => {
    const drives = (await list()).filter((d) => d.keyID);
    const uids = await Promise.all(
      drives.map(async (d) => {
        const name = `ekmd-AK cluster=${uuid} serial=${d.serial} keyID=${d.keyID}`;
        return (await eks.locate({ names: [name] }))[0]!;
      }),
    );
    await client.ok('DisableEncryptionAtRest');
    await waitForEarState(node, 'disabled', 30_000);
    for (const d of drives) {
      t.match(node.sim.status().drives[d.slot]!.ranges[0], { rle: false, wle: false });
    }
    for (const uid of uids) await t.rejects(eks.get(uid), /Item Not Found/, `AK ${uid} destroyed`);
    t.equal(await providerActive(), false);
    t.same(await client.ok('GetEncryptionAtRestInfo'), { state: 'disabled' });
  });

  t.test('enable and disable again: each PIN an AK at the EKS, then the erase', async (t) => {
    await enable(node, { keyProviderID });
    await checkPinsKnown(t, node, 'enabled again');
    t.ok(node.hw.drives.records().every((d) => d.keyProviderID === keyProviderID));
    await disable(node);
    await checkPinsKnown(t, node, 'disabled again');
    await enable(node, { keyProviderID });
    await checkPinsKnown(t, node, 'enabled a third time');
    await eraseAll(t, node);
    t.same(await eks.locate({ objectGroups: [`ekmd-cluster-${uuid}`] }), [], 'no AK left');
  });
}
