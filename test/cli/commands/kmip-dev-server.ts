// The dev KMIP server as a process, and the cluster's CSR signed by its CA: a key
// server that ekmd's Test/Modify/AddKeyServerToProvider really reach.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDevPki, type DevPki } from '../../../scripts/pki/dev-pki';
import { caFromPem, signCsr } from '../../cluster/pki';
import { bin } from '../../helpers/paths';

export interface DevKmip {
  pki: DevPki;
  port: number;
  /** Signs the cluster's CSR with the CA the server trusts. */
  sign(csrPem: string): string;
  stop(): void;
}

export async function startDevKmip(t: { teardown(fn: () => void): void }): Promise<DevKmip> {
  const dir = mkdtempSync(join(tmpdir(), 'ekmctl-kmip-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pki = await makeDevPki(join(dir, 'pki'));
  const child = spawn(
    process.execPath,
    [bin.ekmctl, 'kmip', 'dev-server', '--state', join(dir, 'kmip-state')]
      .concat(['--listen', '127.0.0.1:0', '--ca', pki.ca])
      .concat(['--cert', pki.server.cert, '--key', pki.server.key]),
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  t.teardown(stop);
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`dev-server exited ${code}`)));
  });
  const ca = caFromPem(
    readFileSync(pki.ca, 'utf8'),
    readFileSync(join(pki.dir, 'ca-key.pem'), 'utf8'),
  );
  return { pki, port, sign: (csr) => signCsr(ca, csr), stop };
}
