// Without an operator certificate the API serves a self-signed one, made once and kept in
// stateDir (cluster/self-signed.ts). Element clients (the SDK's default, Trident) do not
// verify the API's certificate anyway.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Sealer } from '../cluster/sealer';
import { keptSelfSignedIdentity, type TlsIdentity } from '../cluster/self-signed';
import { API_CERT_FILE, API_SEALED_KEY_FILE } from '../store/state-files';

export type { TlsIdentity } from '../cluster/self-signed';

export const SEAL_LABEL = 'api/tls/privateKey';

/** The kept identity, or a new one when there is none or it has expired. */
export function selfSignedIdentity(
  stateDir: string,
  sealer: Sealer,
  logger?: Logger,
): Promise<TlsIdentity> {
  return keptSelfSignedIdentity(
    stateDir,
    sealer,
    {
      certFile: API_CERT_FILE,
      sealedKeyFile: API_SEALED_KEY_FILE,
      label: SEAL_LABEL,
      commonName: hostname(),
      dnsNames: [hostname(), 'localhost'],
      ips: ['127.0.0.1', '::1'],
      usage: { serverAuth: true },
      validDays: 825,
    },
    logger,
  );
}
