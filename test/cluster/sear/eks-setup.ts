// A key server and provider for a SEAR node, set up through the API as an operator would:
// key pair, CSR signed by the test CA, key server, provider. Also a KMIP client of the same
// owner (the dev client certificate shares CN storage-node-1) to look at the EKS directly,
// and the dev key server as a test stops and starts it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { makeDevPki, type DevPki } from '../../../scripts/pki/dev-pki';
import { KmipClient } from '../../../src/kmip/client';
import { DevKmipServer } from '../../../src/kmip/server';
import { caFromPem, signCsr } from '../pki';

/** What addProvider needs of an API client. */
export interface ApiCaller {
  ok(method: string, params?: Record<string, unknown>): Promise<Record<string, any>>;
}

export async function addProvider(
  node: { client: ApiCaller },
  pki: DevPki,
  port: number,
  serverName = 'eks',
): Promise<{ keyProviderID: number; keyServerID: number }> {
  const read = (p: string) => readFileSync(p, 'utf8');
  const { client } = node;
  await client.ok('CreatePublicPrivateKeyPair', { commonName: 'storage-node-1' });
  const csr = (await client.ok('GetClientCertificateSignRequest')).clientCertificateSignRequest;
  const ca = caFromPem(read(pki.ca), read(join(pki.dir, 'ca-key.pem')));
  const { keyServerID } = (
    await client.ok('CreateKeyServerKmip', {
      kmipCaCertificate: ca.certPem,
      kmipClientCertificate: signCsr(ca, csr),
      kmipKeyServerHostnames: ['127.0.0.1'],
      kmipKeyServerName: serverName,
      kmipKeyServerPort: port,
    })
  ).kmipKeyServer;
  const { keyProviderID } = (await client.ok('CreateKeyProviderKmip', { keyProviderName: 'eks' }))
    .kmipKeyProvider;
  await client.ok('AddKeyServerToProviderKmip', { keyProviderID, keyServerID });
  return { keyProviderID, keyServerID };
}

export function eksClient(pki: DevPki, port: number): KmipClient {
  const read = (p: string) => readFileSync(p, 'utf8');
  return new KmipClient({
    hostnames: ['127.0.0.1'],
    port,
    ca: read(pki.ca),
    cert: read(pki.client.cert),
    key: read(pki.client.key),
  });
}

export const mkName = (uuid: string, keyID: string): string =>
  `ekmd-MK cluster=${uuid} keyID=${keyID}`;

/** The dev key server under `dir` (its PKI made there), stopped and started again on its port. */
export interface StoppableDevEks {
  pki: DevPki;
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startStoppableDevEks(t: Test, dir: string): Promise<StoppableDevEks> {
  const pki = await makeDevPki(join(dir, 'pki'));
  const read = (p: string) => readFileSync(p, 'utf8');
  const startAt = (port: number) =>
    DevKmipServer.start({
      stateDir: join(dir, 'eks'),
      host: '127.0.0.1',
      port,
      ca: read(pki.ca),
      cert: read(pki.server.cert),
      key: read(pki.server.key),
    });
  let server: DevKmipServer | undefined = await startAt(0);
  const port = server.address.port;
  t.teardown(() => server?.close());
  return {
    pki,
    port,
    async stop() {
      await server?.close();
      server = undefined;
    },
    async start() {
      server = await startAt(port);
    },
  };
}
