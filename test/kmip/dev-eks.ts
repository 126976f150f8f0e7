// Dev KMIP servers in this process, trusting a fresh dev PKI: the key servers most KMIP
// tests talk to. startDevEks makes one in a directory of its own, gone at teardown.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDevPki, type DevPki } from '../../scripts/pki/dev-pki';
import { DevKmipServer } from '../../src/kmip/server';

export interface DevEksMaker {
  pki: DevPki;
  /** A file's text (the PKI's PEM files). */
  read(path: string): string;
  /** A dev key server on `port` (0: any), its state in `dir`/`name`. */
  start(name: string, port?: number): Promise<DevKmipServer>;
}

/** A dev PKI in `dir`/pki, and servers that present its server certificate. */
export async function devEksMaker(dir: string): Promise<DevEksMaker> {
  const pki = await makeDevPki(join(dir, 'pki'));
  const read = (p: string) => readFileSync(p, 'utf8');
  const start = (name: string, port = 0) => {
    mkdirSync(join(dir, name), { recursive: true });
    return DevKmipServer.start({
      stateDir: join(dir, name),
      host: '127.0.0.1',
      port,
      ca: read(pki.ca),
      cert: read(pki.server.cert),
      key: read(pki.server.key),
    });
  };
  return { pki, read, start };
}

export interface FaultyKeyServer {
  /** The test's own directory (the PKI and the server's state are in it). */
  dir: string;
  pki: DevPki;
  srv: DevKmipServer;
  read(path: string): string;
}

export async function startDevEks(
  t: { teardown(fn: () => unknown): void },
  name: string,
): Promise<FaultyKeyServer> {
  const dir = mkdtempSync(join(tmpdir(), `ekmd-${name}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { pki, read, start } = await devEksMaker(dir);
  const srv = await start('eks');
  t.teardown(() => srv.close());
  return { dir, pki, srv, read };
}
