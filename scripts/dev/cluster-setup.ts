// The first start's cluster set-up through the public API, as an operator would do it:
// CreateCluster, a key pair whose CSR the dev CA signs, the dev key server and a provider,
// EnableEncryptionAtRest. Resumable: each step looks at what already exists.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { signClientCsr } from '../pki/dev-pki';
import type { DevApi } from './api';
import { say, StartError } from './common';
import type { Admin } from './ekmd-config';

const KEY_SERVER_NAME = 'ekmd-dev-kmip';
const KEY_PROVIDER_NAME = 'ekmd-dev';
const ENABLE_WAIT_MS = 120_000;

type Entry = Record<string, any>;

async function devKeyServer(api: DevApi): Promise<Entry | undefined> {
  const servers = (await api.ok('ListKeyServersKmip')).kmipKeyServers as Entry[];
  return servers.find((s) => s.kmipKeyServerName === KEY_SERVER_NAME);
}

/**
 * The set-up, each step skipped when the API shows it done; `pkiDir` holds the dev CA;
 * `nodes` the addresses CreateCluster names (this node's first; the others pending nodes').
 */
export async function setUpCluster(
  api: DevApi,
  admin: Admin,
  pkiDir: string,
  kmipPort: number,
  nodes: string[] = ['127.0.0.1'],
): Promise<void> {
  const info = await api.call('GetClusterInfo');
  if (info.error?.name === 'xClusterNotCreated') {
    say('setup: CreateCluster');
    await api.ok('CreateCluster', {
      acceptEula: true,
      mvip: '127.0.0.1',
      svip: '127.0.0.1',
      nodes,
      username: admin.username,
      password: admin.password,
    });
  } else if (info.error) {
    throw new StartError(`GetClusterInfo: ${info.error.name}: ${info.error.message}`);
  }
  let csr = (await api.call('GetClientCertificateSignRequest')).result
    ?.clientCertificateSignRequest as string | undefined;
  if (!csr) {
    say('setup: CreatePublicPrivateKeyPair');
    await api.ok('CreatePublicPrivateKeyPair', { commonName: 'ekmd-dev-node' });
    csr = (await api.ok('GetClientCertificateSignRequest')).clientCertificateSignRequest as string;
  }
  let server = await devKeyServer(api);
  if (!server) {
    say('setup: GetClientCertificateSignRequest, CSR signed by the dev CA, CreateKeyServerKmip');
    server = (
      await api.ok('CreateKeyServerKmip', {
        kmipCaCertificate: readFileSync(join(pkiDir, 'ca.pem'), 'utf8'),
        kmipClientCertificate: signClientCsr(pkiDir, csr),
        kmipKeyServerHostnames: ['127.0.0.1'],
        kmipKeyServerName: KEY_SERVER_NAME,
        kmipKeyServerPort: kmipPort,
      })
    ).kmipKeyServer as Entry;
  }
  const providers = (await api.ok('ListKeyProvidersKmip')).kmipKeyProviders as Entry[];
  let provider = providers.find((p) => p.keyProviderName === KEY_PROVIDER_NAME);
  if (!provider) {
    say('setup: CreateKeyProviderKmip');
    provider = (await api.ok('CreateKeyProviderKmip', { keyProviderName: KEY_PROVIDER_NAME }))
      .kmipKeyProvider as Entry;
  }
  const keyProviderID = provider.keyProviderID as number;
  if (server.keyProviderID !== keyProviderID) {
    say('setup: AddKeyServerToProviderKmip');
    await api.ok('AddKeyServerToProviderKmip', {
      keyProviderID,
      keyServerID: server.keyServerID,
    });
  }
  await enableEncryptionAtRest(api, keyProviderID);
}

async function enableEncryptionAtRest(api: DevApi, keyProviderID: number): Promise<void> {
  const earState = async () =>
    (await api.ok('GetClusterInfo')).clusterInfo.encryptionAtRestState as string;
  let state = await earState();
  if (state === 'disabled') {
    say(`setup: EnableEncryptionAtRest with key provider ${keyProviderID}`);
    await api.ok('EnableEncryptionAtRest', { keyProviderID });
  }
  const deadline = Date.now() + ENABLE_WAIT_MS;
  while (state !== 'enabled') {
    if (state !== 'enabling' && state !== 'disabled')
      throw new StartError(`encryptionAtRestState is ${state}; npm run reset to start over`);
    if (Date.now() > deadline)
      throw new StartError(`encryptionAtRestState still ${state} after ${ENABLE_WAIT_MS / 1000} s`);
    await sleep(100);
    state = await earState();
  }
  say('setup: encryption at rest enabled');
}

/** Points the dev key server's entry at `kmipPort` when the dev key server had to move. */
export async function followKeyServerPort(api: DevApi, kmipPort: number): Promise<void> {
  const server = await devKeyServer(api);
  if (server && server.kmipKeyServerPort !== kmipPort) {
    await api.ok('ModifyKeyServerKmip', {
      keyServerID: server.keyServerID,
      kmipKeyServerPort: kmipPort,
    });
    say(`key server ${server.keyServerID} now at port ${kmipPort}`);
  }
}
