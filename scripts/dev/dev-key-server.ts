// The dev key server child (`ekmctl kmip dev-server`), serving the dev PKI's certificate,
// its objects kept in the state directory. It keeps its port across starts (remembered in
// the state directory), so ekmd's key server entry stays right and a later start is a
// plain node boot; only when that port is taken does it take a new one, and the start then
// moves the entry through the API (cluster-setup's followKeyServerPort).
import { readFileSync } from 'node:fs';
import type { Children } from './children';
import { bins, portFree, say, writeJson, type Layout } from './common';

export interface ServerPki {
  ca: string;
  cert: string;
  key: string;
}

/** The port remembered in `file`, if any. */
function rememberedPort(file: string): number | undefined {
  try {
    const { port } = JSON.parse(readFileSync(file, 'utf8')) as { port?: unknown };
    if (typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65536) return port;
  } catch {
    // the first start, or a file we cannot read: a new port
  }
  return undefined;
}

/**
 * The port to listen on: the remembered one when it is free (and not the API's), else any.
 * Should another process take it between this check and the server's bind, the server
 * exits (EADDRINUSE, in the failure's log tail) and the next start takes a new port.
 */
async function portToListen(file: string, apiPort: number): Promise<number> {
  const last = rememberedPort(file);
  if (last === undefined) return 0;
  if (last !== apiPort && (await portFree(last))) return last;
  say(`port ${last} of the dev key server is taken; it takes a new one`);
  return 0;
}

/** Starts it and resolves with the port it listens on, which it remembers. */
export async function startDevKeyServer(
  children: Children,
  L: Layout,
  pki: ServerPki,
  apiPort: number,
): Promise<number> {
  const listen = await portToListen(L.kmipPort, apiPort);
  const kmip = children.start('kmip-dev-server', [
    bins.ekmctl,
    'kmip',
    'dev-server',
    '--state',
    L.kmip,
    '--listen',
    `127.0.0.1:${listen}`,
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
  const port = Number(listening[1]);
  if (port !== listen) writeJson(L.kmipPort, { port }, 0o644);
  return port;
}
