// A node under hardware EAR with its AKs at the dev key server over mutual TLS: a cluster,
// its key server and provider set up as an operator would (addProvider), EAR enabled.
// The key server can be stopped and started again on its port.
import type { Test } from 'tap';
import type { DevPki } from '../../../scripts/pki/dev-pki';
import { KmipKeyServerTester } from '../../../src/cluster/key-servers/kmip-tester';
import {
  createCluster,
  startEarNode,
  waitForEarState,
  type EarNode,
} from '../hardware-ear/ear-node';
import { addProvider, startStoppableDevEks, type StoppableDevEks } from '../sear/eks-setup';

export interface DevEksNode {
  node: EarNode;
  pki: DevPki;
  port: number;
  keyServerID: number;
  keyProviderID: number;
  eks: StoppableDevEks;
}

export async function startNodeWithDevEks(t: Test, drives: number): Promise<DevEksNode> {
  const node = await startEarNode(t, {
    drives,
    tester: new KmipKeyServerTester({ connectTimeoutMs: 2000, requestTimeoutMs: 5000 }),
  });
  const eks = await startStoppableDevEks(t, node.dir);
  const { pki, port } = eks;
  await createCluster(node);
  const { keyProviderID, keyServerID } = await addProvider(node, pki, port, 'dev');
  await node.client.ok('EnableEncryptionAtRest', { keyProviderID });
  await waitForEarState(node, 'enabled', 30_000);
  return { node, pki, port, keyServerID, keyProviderID, eks };
}
