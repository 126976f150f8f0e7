// The dev key server child (`ekmctl kmip dev-server`), serving the dev PKI's certificate,
// its objects kept in the state directory.
import type { Children } from './children';
import { bins, type Layout } from './common';

export interface ServerPki {
  ca: string;
  cert: string;
  key: string;
}

/** Starts it and resolves with the port it listens on. */
export async function startDevKeyServer(
  children: Children,
  L: Layout,
  pki: ServerPki,
): Promise<number> {
  const kmip = children.start('kmip-dev-server', [
    bins.ekmctl,
    'kmip',
    'dev-server',
    '--state',
    L.kmip,
    '--listen',
    '127.0.0.1:0',
    '--ca',
    pki.ca,
    '--cert',
    pki.cert,
    '--key',
    pki.key,
    '--control',
    L.kmipControl,
  ]);
  const listening = await children.waitFor(kmip, /listening on 127\.0\.0\.1:(\d+)/, 'listening');
  return Number(listening[1]);
}
