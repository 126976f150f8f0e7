// Hardware EAR with AKs at a real KMIP server (PyKMIP over mutual TLS): enable registers
// every drive's AK under its Name in one message, the drives lock with them, the provider
// turns active; disable turns locking off and destroys the AKs at the server.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDevPki } from '../../scripts/pki/dev-pki';
import { startPykmip } from '../../scripts/pykmip/pykmip-server';
import { KmipKeyServerTester } from '../../src/cluster/kmip-tester';
import { KmipClient } from '../../src/kmip/client';
import { OpalUser } from '../../src/opal/abi';
import { caFromPem, signCsr } from '../cluster/pki';
import { createCluster, startEarNode, waitForEarState } from '../cluster/hardware-ear/ear-node';

t.test('hardware EAR with PyKMIP', async (t) => {
  const node = await startEarNode(t, {
    drives: 3,
    tester: new KmipKeyServerTester({ connectTimeoutMs: 2000, requestTimeoutMs: 5000 }),
  });
  const pkiFiles = await makeDevPki(join(node.dir, 'pki'));
  const pykmip = (port = 0) =>
    startPykmip({
      dir: join(node.dir, 'pykmip'),
      pki: { ca: pkiFiles.ca, server: pkiFiles.server, client: pkiFiles.client },
      port,
    });
  let kms = await pykmip();
  t.teardown(() => kms.stop(500));
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
    await kms.stop(500);
    await client.ok('EnableEncryptionAtRest', { keyProviderID });
    await new Promise((r) => setTimeout(r, 1000));
    t.equal((await client.ok('GetClusterInfo')).clusterInfo.encryptionAtRestState, 'enabling');
    t.notOk(
      (await list()).some((d) => d.keyID),
      'no drive touched while the EKS is unreachable',
    );
    t.ok(node.sim.status().drives.every((d) => d.lsp === 'manufactured-inactive'));
    kms = await pykmip(kms.port);
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
});
