// A node under hardware EAR with its AKs at the dev key server over mutual TLS: a cluster,
// its key pair and CSR signed by the dev PKI, one key server and provider, EAR enabled.
// The key server can be stopped and started again on its port.
import type { Test } from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDevPki, type DevPki } from '../../../scripts/pki/dev-pki';
import { KmipKeyServerTester } from '../../../src/cluster/key-servers/kmip-tester';
import { DevKmipServer } from '../../../src/kmip/server';
import {
  createCluster,
  startEarNode,
  waitForEarState,
  type EarNode,
} from '../hardware-ear/ear-node';
import { caFromPem, signCsr, type TestCa } from '../pki';

export interface DevEksNode {
  node: EarNode;
  pki: DevPki;
  /** The CA that signed the cluster's client certificate. */
  ca: TestCa;
  port: number;
  keyServerID: number;
  keyProviderID: number;
  eks: { stop(): Promise<void>; start(): Promise<void> };
}

export async function startNodeWithDevEks(t: Test, drives: number): Promise<DevEksNode> {
  const node = await startEarNode(t, {
    drives,
    tester: new KmipKeyServerTester({ connectTimeoutMs: 2000, requestTimeoutMs: 5000 }),
  });
  const pki = await makeDevPki(join(node.dir, 'pki'));
  const read = (p: string) => readFileSync(p, 'utf8');
  const startEks = (port: number) =>
    DevKmipServer.start({
      stateDir: join(node.dir, 'eks'),
      host: '127.0.0.1',
      port,
      ca: read(pki.ca),
      cert: read(pki.server.cert),
      key: read(pki.server.key),
    });
  let server: DevKmipServer | undefined = await startEks(0);
  const port = server.address.port;
  t.teardown(() => server?.close());
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
      kmipKeyServerPort: port,
    })
  ).kmipKeyServer;
  const { keyProviderID } = (await client.ok('CreateKeyProviderKmip', { keyProviderName: 'eks' }))
    .kmipKeyProvider;
  await client.ok('AddKeyServerToProviderKmip', { keyProviderID, keyServerID });
  await client.ok('EnableEncryptionAtRest', { keyProviderID });
  await waitForEarState(node, 'enabled', 30_000);
  const eks = {
    async stop() {
      await server?.close();
      server = undefined;
    },
    async start() {
      server = await startEks(port);
    },
  };
  return { node, pki, ca, port, keyServerID, keyProviderID, eks };
}
