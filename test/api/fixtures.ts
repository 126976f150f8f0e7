// Shared test setup for API tests: a tester that records contacts, and a cluster with a
// key pair, a CA and a signed client certificate ready for CreateKeyServerKmip.
import type {
  KeyServerEndpoint,
  KeyServerTester,
} from '../../src/cluster/key-servers/key-server-tester';
import { makeCa, signCsr, type TestCa } from '../cluster/pki';
import type { TestNode } from './node';

/** For paths that must not contact a key server: records every attempt, and fails it. */
export class ContactRecorder implements KeyServerTester {
  readonly contacts: KeyServerEndpoint[] = [];
  async test(endpoint: KeyServerEndpoint) {
    this.contacts.push({ ...endpoint, clientKey: Buffer.alloc(0) });
    return {
      ok: false as const,
      failedStep: 'connect' as const,
      message: 'not reachable in this test',
    };
  }
}

export interface ClusterPki {
  ca: TestCa;
  clientCertificate: string;
}

export async function withKeyPair(node: TestNode, ca = makeCa('test CA')): Promise<ClusterPki> {
  await node.client.ok('CreatePublicPrivateKeyPair', {
    commonName: 'storage-node-1',
    country: 'US',
  });
  const { clientCertificateSignRequest } = await node.client.ok('GetClientCertificateSignRequest');
  return { ca, clientCertificate: signCsr(ca, clientCertificateSignRequest) };
}

export function serverParams(pki: ClusterPki, overrides: Record<string, unknown> = {}) {
  return {
    kmipCaCertificate: pki.ca.certPem,
    kmipClientCertificate: pki.clientCertificate,
    kmipKeyServerHostnames: ['127.0.0.1'],
    kmipKeyServerName: 'kms-1',
    ...overrides,
  };
}

/** Records a live key through `keyProviderID`, as hardware or software EAR would. */
export async function recordLiveKey(
  node: TestNode,
  keyProviderID: number,
  keyID = 'k-1',
): Promise<void> {
  await node.store.put(`keys/${keyID}`, { keyID, keyProviderID, state: 'live' });
}
