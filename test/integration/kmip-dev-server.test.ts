// The KMIP client's interop suite against the dev key server, run as its own process.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { makeDevPki } from '../../scripts/pki/dev-pki';
import { bin } from '../helpers/paths';
import { interopSuite } from '../kmip/client/interop-suite';

const dir = mkdtempSync(join(tmpdir(), 'ekmd-devkmip-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('dev key server', async (t) => {
  const pki = await makeDevPki(join(dir, 'pki'));
  const child = spawn(
    process.execPath,
    [
      bin.ekmctl,
      'kmip',
      'dev-server',
      '--state',
      join(dir, 'state'),
      '--listen',
      '127.0.0.1:0',
      '--ca',
      pki.ca,
      '--cert',
      pki.server.cert,
      '--key',
      pki.server.key,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.teardown(() => child.kill('SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`dev-server exited ${code}`)));
  });
  interopSuite(t, { kind: 'dev', port, pki });
});
