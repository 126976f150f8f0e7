// The external master key behind two dev key servers of one provider, both holding it:
// kmipServerFault is raised or resolved only for the key servers a master-key fetch
// actually reached. The first refusing → the fetch goes through the second, the first
// keeps its fault and the second has none; the first back → its fault stays until a fetch
// reaches it; both down → one current fault each, however many rounds retry. A request of
// several messages counts a server's failure in any of them.
import t from 'tap';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterFault } from '../../../src/cluster/faults';
import { ClusterKeyPair } from '../../../src/cluster/key-pair';
import { KmipKeyServerTester } from '../../../src/cluster/key-servers/kmip-tester';
import { KeyServerRequests } from '../../../src/cluster/sear/key-server-requests';
import { OBJECT_FILE } from '../../../src/kmip/server';
import { caFromPem, signCsr } from '../pki';
import {
  awaitAsync,
  createCluster,
  readsBack,
  startSearNode,
  waitFor,
  writeEveryDrive,
} from './sear-node';
import { devEksMaker } from '../../kmip/dev-eks';

t.test('kmipServerFault only for the key servers the MK fetch reached', async (t) => {
  const node = await startSearNode(t, {
    drives: 2,
    tester: new KmipKeyServerTester({ connectTimeoutMs: 2000, requestTimeoutMs: 5000 }),
  });
  const { pki, read, start: startEks } = await devEksMaker(node.dir);
  let first = await startEks('eks-a', 0);
  let second = await startEks('eks-b', 0);
  const ports = [first.address.port, second.address.port] as const;
  t.teardown(async () => {
    await first.close();
    await second.close();
  });

  await createCluster(node);
  await node.settle();
  writeEveryDrive(node);
  await node.client.ok('CreatePublicPrivateKeyPair', { commonName: 'storage-node-1' });
  const csr = (await node.client.ok('GetClientCertificateSignRequest'))
    .clientCertificateSignRequest;
  const ca = caFromPem(read(pki.ca), read(join(pki.dir, 'ca-key.pem')));
  const clientCert = signCsr(ca, csr);
  const { keyProviderID } = (
    await node.client.ok('CreateKeyProviderKmip', { keyProviderName: 'eks' })
  ).kmipKeyProvider;
  const addServer = async (name: string, port: number): Promise<number> => {
    const { keyServerID } = (
      await node.client.ok('CreateKeyServerKmip', {
        kmipCaCertificate: ca.certPem,
        kmipClientCertificate: clientCert,
        kmipKeyServerHostnames: ['127.0.0.1'],
        kmipKeyServerName: name,
        kmipKeyServerPort: port,
      })
    ).kmipKeyServer;
    await node.client.ok('AddKeyServerToProviderKmip', { keyProviderID, keyServerID });
    return keyServerID;
  };
  const a = await addServer('a', ports[0]);
  const b = await addServer('b', ports[1]);
  const { asyncHandle } = await node.client.ok('RekeySoftwareEncryptionAtRestMasterKey', {
    keyManagementType: 'External',
    keyProviderID,
  });
  t.equal((await awaitAsync(node, asyncHandle)).result?.state, 'Ready', 'MK made at server a');
  // Replicated, as a key server cluster would: b holds the same objects as a.
  await second.close();
  copyFileSync(join(node.dir, 'eks-a', OBJECT_FILE), join(node.dir, 'eks-b', OBJECT_FILE));
  second = await startEks('eks-b', ports[1]);

  const faults = async (faultTypes = 'current'): Promise<ClusterFault[]> =>
    ((await node.client.ok('ListClusterFaults', { faultTypes })).faults as ClusterFault[]).filter(
      (f) => f.code === 'kmipServerFault',
    );
  const faulted = async () => (await faults()).map((f) => f.data?.keyServerID).sort();
  /** A node boot: the drives lose their DEKs, so SEAR must fetch the MK again. */
  const boot = async () => {
    await node.close();
    node.sim.powerCycle();
    await node.open();
    await node.settle();
  };
  await boot();
  t.ok(readsBack(node), 'both serving: the DEKs attached');
  t.same(await faulted(), [], 'no kmipServerFault');

  t.test('first refusing: served by the second; only the first is faulted', async (t) => {
    first.fault = { kind: 'refuse' };
    await boot();
    t.ok(readsBack(node), 'the DEKs attached through the second server');
    t.same(await faulted(), [a], 'kmipServerFault for the first server only');
    const [fault] = await faults();
    t.match(
      fault!.details,
      /^Key server a \(127\.0\.0\.1:\d+\) of key provider \d+: software encryption master key: /,
    );
    t.match(fault!.data, { keyServerID: a, keyProviderID });
  });

  t.test('first back: its fault resolves only once a fetch reaches it', async (t) => {
    const [before] = await faults();
    first.fault = { kind: 'none' };
    await node.settle();
    t.same(await faulted(), [a], 'no fetch yet: the fault stands');
    await boot();
    t.ok(readsBack(node));
    t.same(await faulted(), [], 'resolved by the fetch that reached it');
    const history = (await faults('resolved')).find(
      (f) => f.clusterFaultID === before!.clusterFaultID,
    );
    t.equal(history?.resolved, true, 'the same fault, now resolved');
  });

  t.test('a request of two messages: a failure in the first one counts', async (t) => {
    const requests = new KeyServerRequests({
      store: node.store,
      keyPair: new ClusterKeyPair(node.store, node.sealer),
      kmip: { connectTimeoutMs: 2000, requestTimeoutMs: 5000 },
      faults: node.faults,
    });
    first.fault = { kind: 'refuse' };
    // The first message fails over to the second server, the next goes there directly.
    const found = await requests.ask(keyProviderID, 'two lookups', async (p) => [
      ...(await p.locate({})),
      ...(await p.locate({})),
    ]);
    t.ok(found.length > 0, 'answered');
    t.same(await faulted(), [a], 'the first server faulted, not taken for the one that served');
    const [fault] = await faults();
    t.match(fault!.details, /: two lookups: /);
    first.fault = { kind: 'none' };
    await requests.ask(keyProviderID, 'two lookups', (p) => p.locate({}));
    t.same(await faulted(), [], 'resolved by a request that reached it');
  });

  t.test('both down: one current fault per server across retries', async (t) => {
    first.fault = { kind: 'refuse' };
    await second.close();
    await boot();
    t.ok(
      node.sim.status().drives.every((d) => d.dek === 'detached'),
      'no MK, no DEKs',
    );
    t.same(await faulted(), [a, b], 'a fault for each server');
    const seen = (await faults('all')).length;
    const retried = () => (node.transcript().match(/SEAR work unfinished/g) ?? []).length;
    const retries = retried();
    await waitFor('two more rounds', async () => retried() >= retries + 2);
    await node.settle();
    t.equal((await faults('all')).length, seen, 'no new fault: each one updated in place');
    t.same(await faulted(), [a, b]);
    const info = await node.client.ok('GetSoftwareEncryptionAtRestInfo');
    t.match(info.detachedDrives[0].reason, /master key unavailable/);

    // The first back: the next retry reaches it and gets the MK; the second, never
    // reached, keeps its fault.
    first.fault = { kind: 'none' };
    await waitFor('the DEKs attached', async () =>
      node.sim.status().drives.every((d) => d.dek === 'attached'),
    );
    t.ok(readsBack(node));
    await node.settle();
    t.same(await faulted(), [b], "the first server's fault resolved, the second's stands");
    second = await startEks('eks-b', ports[1]);
  });
});
