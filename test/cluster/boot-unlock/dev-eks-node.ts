// A node under hardware EAR with its AKs at the dev key server over mutual TLS: a cluster,
// its key server and provider set up as an operator would (addProvider), EAR enabled.
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
import { addProvider } from '../sear/eks-setup';

export interface DevEksNode {
  node: EarNode;
  pki: DevPki;
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
  const { keyProviderID, keyServerID } = await addProvider(node, pki, port, 'dev');
  await node.client.ok('EnableEncryptionAtRest', { keyProviderID });
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
  return { node, pki, port, keyServerID, keyProviderID, eks };
}
