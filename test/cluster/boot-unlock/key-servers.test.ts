// Boot unlock against two dev key servers in one provider, the first misbehaving: only
// the server that failed gets kmipServerFault, the drives unlock through the second; many
// failing rounds keep one current fault per code and subject; the periodic key check
// (Get Attributes State) raises a fault within one interval when the server dies or a key
// is destroyed while the node runs, and resolves it when the server is back.
import t from 'tap';
import { join } from 'node:path';
import type { ClusterFault } from '../../../src/cluster/faults';
import type { DriveKeyRecord } from '../../../src/cluster/drive-keys/drive-keys';
import { KmipKeyServerTester } from '../../../src/cluster/key-servers/kmip-tester';
import { KmipClient } from '../../../src/kmip/client';
import { DevKmipServer } from '../../../src/kmip/server';
import { caFromPem, signCsr } from '../pki';
import { createCluster, startEarNode, waitForEarState } from '../hardware-ear/ear-node';
import { openUnlocker, waitFor } from './unlock-harness';
import { devEksMaker } from '../../kmip/dev-eks';

t.test('two key servers, the first misbehaving', async (t) => {
  const node = await startEarNode(t, {
    drives: 3,
    faults: true,
    tester: new KmipKeyServerTester({ connectTimeoutMs: 2000, requestTimeoutMs: 5000 }),
  });
  const { pki, read, start: startEks } = await devEksMaker(node.dir);
  const first = await startEks('eks-a', 0);
  let second = await startEks('eks-b', 0);
  const secondPort = second.address.port;
  t.teardown(async () => {
    await first.close();
    await second.close();
  });

  await createCluster(node);
  const { client } = node;
  await client.ok('CreatePublicPrivateKeyPair', { commonName: 'storage-node-1' });
  const csr = (await client.ok('GetClientCertificateSignRequest')).clientCertificateSignRequest;
  const ca = caFromPem(read(pki.ca), read(join(pki.dir, 'ca-key.pem')));
  const clientCert = signCsr(ca, csr);
  const { keyProviderID } = (await client.ok('CreateKeyProviderKmip', { keyProviderName: 'eks' }))
    .kmipKeyProvider;
  const addServer = async (name: string, port: number): Promise<number> => {
    const { keyServerID } = (
      await client.ok('CreateKeyServerKmip', {
        kmipCaCertificate: ca.certPem,
        kmipClientCertificate: clientCert,
        kmipKeyServerHostnames: ['127.0.0.1'],
        kmipKeyServerName: name,
        kmipKeyServerPort: port,
      })
    ).kmipKeyServer;
    await client.ok('AddKeyServerToProviderKmip', { keyProviderID, keyServerID });
    return keyServerID;
  };
  const a = await addServer('a', first.address.port);
  const b = await addServer('b', secondPort);
  // The keys are registered through the second server: the first refuses.
  first.fault = { kind: 'refuse' };
  await client.ok('EnableEncryptionAtRest', { keyProviderID });
  await waitForEarState(node, 'enabled', 30_000);

  const sim = () => node.sim.status().drives;
  const faults = async (faultTypes = 'current'): Promise<ClusterFault[]> =>
    (await client.ok('ListClusterFaults', { faultTypes })).faults;
  const serverFaults = async () =>
    (await faults())
      .filter((f) => f.code === 'kmipServerFault')
      .map((f) => f.data?.keyServerID)
      .sort();

  t.test(
    'first refusing, second serving → unlocked; the fault is the first one only',
    async (t) => {
      node.sim.powerCycle();
      await waitFor(() => sim().every((s) => !s.locked), 20_000);
      await node.hw.unlock!.idle();
      t.same(await serverFaults(), [a], 'kmipServerFault for the refusing server only');
      const [fault] = (await faults()).filter((f) => f.code === 'kmipServerFault');
      t.match(fault!.details, /Key server a \(127\.0\.0\.1:\d+\) of key provider \d+: /);
      t.same(
        (await faults()).filter((f) => f.code === 'driveFailed'),
        [],
        'no drive left locked',
      );
    },
  );

  t.test(
    'first stalled → unlocked through the second, started after the attempt delay',
    async (t) => {
      first.fault = { kind: 'stall' };
      node.sim.powerCycle();
      await waitFor(() => sim().every((s) => !s.locked), 30_000);
      await node.hw.unlock!.idle();
      t.same(await serverFaults(), [a], 'still only the first server');
      const [fault] = (await faults()).filter((f) => f.code === 'kmipServerFault');
      t.match(
        fault!.details,
        /tls: no TLS handshake after \d+ ms; 127\.0\.0\.1:\d+ answered first/,
        'the fault says the first one stalled',
      );
      first.fault = { kind: 'refuse' };
    },
  );

  t.test('many failing rounds → one current fault per code and subject', async (t) => {
    await second.close();
    node.sim.powerCycle();
    await node.hw.unlock!.round();
    const after1 = await faults('all');
    for (let i = 0; i < 20; i++) await node.hw.unlock!.round();
    await node.hw.unlock!.idle();
    const after21 = await faults('all');
    t.same(
      after21.map((f) => f.clusterFaultID),
      after1.map((f) => f.clusterFaultID),
      'no new fault after 20 more rounds',
    );
    t.same(await serverFaults(), [a, b], 'one kmipServerFault per server');
    const failed = (await faults()).filter((f) => f.code === 'driveFailed');
    t.equal(failed.length, 1, 'one driveFailed for the node');
    t.equal(failed[0]!.driveIDs.length, 3);
    t.match(failed[0]!.details, 'Node ID 1 has 3 failed drive(s).');

    second = await DevKmipServer.start({
      stateDir: join(node.dir, 'eks-b'),
      host: '127.0.0.1',
      port: secondPort,
      ca: read(pki.ca),
      cert: read(pki.server.cert),
      key: read(pki.server.key),
    });
    node.hw.unlock!.trigger();
    await waitFor(() => sim().every((s) => !s.locked), 20_000);
    await node.hw.unlock!.idle();
    t.same(await serverFaults(), [a], "the second server's fault resolved");
  });

  t.test('key check: server dead, back, then a key destroyed', async (t) => {
    // Only this service unlocks from here on: its key check findings are what is tested.
    await node.hw.unlock!.close();
    const u = openUnlocker(node, { keyCheckIntervalSec: 1 });
    t.teardown(() => u.close());
    u.service.start();
    await second.close();
    await waitFor(() => u.currentFaults('kmipServerFault').some((f) => f.data?.keyServerID === b));
    t.ok(
      sim().every((s) => !s.locked),
      'drives stay unlocked',
    );
    t.ok(u.warnings().includes('key check failed'), 'logged');

    second = await startEks('eks-b', secondPort);
    await waitFor(() => !u.currentFaults('kmipServerFault').some((f) => f.data?.keyServerID === b));
    t.pass('resolved once the server answers again');

    const [drive] = (await client.ok('ListDrives')).drives as Record<string, any>[];
    const { kmipUID } = node.store.get<DriveKeyRecord>(`keys/${drive!.keyID}`)!.value;
    // The dev client certificate shares the cluster's CN: the same owner at the server.
    const owner = new KmipClient({
      hostnames: ['127.0.0.1'],
      port: secondPort,
      ca: read(pki.ca),
      cert: read(pki.client.cert),
      key: read(pki.client.key),
    });
    await owner.revoke(kmipUID!);
    await owner.destroy(kmipUID!);
    owner.close();
    await waitFor(() => u.currentFaults('kmipServerFault').some((f) => f.data?.keyServerID === b));
    const fault = u.currentFaults('kmipServerFault').find((f) => f.data?.keyServerID === b)!;
    t.match(fault.details, new RegExp(`1 key\\(s\\) not usable \\(${kmipUID}: `));

    // Another drive relocks and is unlocked through the same server: the destroyed key is
    // still destroyed, so the fault stays (the same fault, not resolved and raised again).
    node.sim.powerCycle(1);
    const r = await u.service.round();
    t.equal(r.unlocked.length, 1, 'the relocked drive unlocked');
    const still = u.currentFaults('kmipServerFault').find((f) => f.data?.keyServerID === b);
    t.equal(still?.clusterFaultID, fault.clusterFaultID, 'the same current fault');
  });
});
