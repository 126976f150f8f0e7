// Crash safety of hardware EAR: a node process is killed (SIGKILL, through the
// EKMD_TEST_HOOKS crash points) at each step of Enable and Disable; the next start
// resumes or rolls back every drive. No drive is ever left with a PIN nobody holds.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runUntilCrash } from './crash-run';
import { makeDevPki } from '../../scripts/pki/dev-pki';
import { KmipKeyServerTester } from '../../src/cluster/key-servers/kmip-tester';
import { KmipClient } from '../../src/kmip/client';
import { DevKmipServer } from '../../src/kmip/server';
import { caFromPem, signCsr } from '../cluster/pki';
import { OWNERSHIP_UNCONFIRMED } from '../../src/cluster/hardware-ear/drive-locking';
import { sealLabel, type DriveKeyRecord } from '../../src/cluster/drive-keys/drive-keys';
import { OpalUser } from '../../src/opal/abi';
import {
  createCluster,
  startEarNode,
  waitForEarState,
  type EarNode,
} from '../cluster/hardware-ear/ear-node';

function akOf(node: EarNode, keyID: string): Buffer {
  const rec = node.store.get<DriveKeyRecord>(`keys/${keyID}`)!.value;
  return node.sealer.unseal(Buffer.from(rec.sealedKey!, 'base64'), sealLabel(keyID));
}

async function crashedNode(t: Test, command: 'enable' | 'disable', point: string) {
  const node = await startEarNode(t, { drives: 3 });
  await createCluster(node);
  if (command === 'disable') {
    await node.client.ok('EnableEncryptionAtRest');
    await waitForEarState(node, 'enabled');
  }
  await node.close();
  const r = await runUntilCrash(node, command, point);
  t.equal(r.signal, 'SIGKILL', `killed at ${point}${r.stderr ? `: ${r.stderr}` : ''}`);
  await node.open();
  await node.settle();
  return node;
}

const ENABLE_POINTS = [
  'ear.afterRegister',
  'ear.afterRecord',
  'ear.afterTakeOwnership',
  'ear.afterActivate',
  'ear.afterRangeSetup',
  'ear.afterEnable',
];

for (const point of ENABLE_POINTS) {
  t.test(`enable killed at ${point}: every drive resumed or rolled back`, async (t) => {
    const node = await crashedNode(t, 'enable', point);
    await waitForEarState(node, 'enabled');
    const drives = (await node.client.ok('ListDrives')).drives as Record<string, any>[];
    node.sim.powerCycle();
    let enabled = 0;
    for (const d of drives) {
      const s = node.sim.status().drives[d.slot]!;
      if (d.keyID) {
        enabled++;
        t.match(s.ranges[0], { rle: true, wle: true }, `drive ${d.slot} locking`);
        t.ok(s.locked, `drive ${d.slot} relocked on power cycle`);
        await node.opal(d.slot).unlock({ who: OpalUser.ADMIN1, pin: akOf(node, d.keyID) }, 0);
        t.notOk(node.sim.status().drives[d.slot]!.locked, `drive ${d.slot} opens with its AK`);
      } else {
        // Rolled back: the drive never took the AK, so it is still factory-owned (MSID).
        t.equal(d.driveSecurityFaultReason, OWNERSHIP_UNCONFIRMED);
        t.equal(s.lsp, 'manufactured-inactive');
        await node.opal(d.slot).takeOwnership(Buffer.from('operator-pin'));
        t.pass(`drive ${d.slot} can still be owned`);
      }
    }
    t.ok(enabled >= 1, 'the drive that was being provisioned was resumed');
    if (point === 'ear.afterRegister' || point === 'ear.afterRecord' || point === 'ear.afterEnable')
      t.equal(enabled, drives.length, 'no drive had been touched or all were done: all enabled');
    const stuck = node.hw.drives.records().filter((d) => d.security === 'provisioning');
    t.same(stuck, [], 'nothing left provisioning');
  });
}

for (const point of ['ear.afterUnlock', 'ear.afterDisableLocking']) {
  t.test(`disable killed at ${point}: finished at the next start`, async (t) => {
    const node = await crashedNode(t, 'disable', point);
    await waitForEarState(node, 'disabled');
    node.sim.powerCycle();
    for (const s of node.sim.status().drives) {
      t.match(s.ranges[0], { rle: false, wle: false });
      t.notOk(s.locked, `drive ${s.index} open after a power cycle`);
    }
    const live = node.store
      .list<DriveKeyRecord>('keys/')
      .filter((e) => e.value.state !== 'destroyed');
    t.equal(live.length, 3, 'one sealed owner key per drive, nothing else');
    t.ok(live.every((e) => e.value.keyProviderID === null && e.value.sealedKey));
  });
}

t.test(
  'enable through a provider killed after Register: no AK left unrecorded at the EKS',
  async (t) => {
    const node = await startEarNode(t, {
      drives: 3,
      tester: new KmipKeyServerTester({ connectTimeoutMs: 2000, requestTimeoutMs: 5000 }),
    });
    const pki = await makeDevPki(join(node.dir, 'pki'));
    const read = (p: string) => readFileSync(p, 'utf8');
    const kms = await DevKmipServer.start({
      stateDir: join(node.dir, 'eks'),
      host: '127.0.0.1',
      port: 0,
      ca: read(pki.ca),
      cert: read(pki.server.cert),
      key: read(pki.server.key),
    });
    t.teardown(() => kms.close());
    await createCluster(node);
    const { client } = node;
    await client.ok('CreatePublicPrivateKeyPair', { commonName: 'storage-node-1' });
    const csr = (await client.ok('GetClientCertificateSignRequest')).clientCertificateSignRequest;
    const ca = caFromPem(read(pki.ca), read(join(pki.dir, 'ca-key.pem')));
    const { keyServerID } = (
      await client.ok('CreateKeyServerKmip', {
        kmipCaCertificate: ca.certPem,
        kmipClientCertificate: signCsr(ca, csr),
        kmipKeyServerHostnames: ['127.0.0.1'],
        kmipKeyServerName: 'dev',
        kmipKeyServerPort: kms.address.port,
      })
    ).kmipKeyServer;
    const { keyProviderID } = (await client.ok('CreateKeyProviderKmip', { keyProviderName: 'dev' }))
      .kmipKeyProvider;
    await client.ok('AddKeyServerToProviderKmip', { keyProviderID, keyServerID });
    const uuid = (await client.ok('GetClusterInfo')).clusterInfo.uuid as string;
    await node.close();

    const r = await runUntilCrash(node, 'enable', 'ear.afterRegister', [String(keyProviderID)]);
    t.equal(r.signal, 'SIGKILL', r.stderr);
    const eks = new KmipClient({
      hostnames: ['127.0.0.1'],
      port: kms.address.port,
      ca: read(pki.ca),
      cert: read(pki.client.cert),
      key: read(pki.client.key),
    });
    t.teardown(() => eks.close());
    const group = { objectGroups: [`ekmd-cluster-${uuid}`] };
    t.equal((await eks.locate(group)).length, 3, 'the crashed process registered 3 AKs');

    await node.open();
    await waitForEarState(node, 'enabled');
    const drives = (await node.client.ok('ListDrives')).drives as Record<string, any>[];
    t.ok(drives.every((d) => d.keyProviderID === keyProviderID && d.keyID));
    const held = await eks.locate(group);
    t.equal(held.length, 3, 'only the AKs the drives use remain at the EKS');
    for (const d of drives) {
      const [uid] = await eks.locate({
        names: [`ekmd-AK cluster=${uuid} serial=${d.serial} keyID=${d.keyID}`],
      });
      t.ok(uid && held.includes(uid), `drive ${d.slot}'s AK is one of them`);
    }
  },
);
