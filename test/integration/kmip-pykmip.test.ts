// The KMIP client against a real PyKMIP server (Debian python3-pykmip) on 127.0.0.1.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { makeDevPki } from '../../scripts/pki/dev-pki';
import { startPykmip } from '../../scripts/pykmip/pykmip-server';
import { interopSuite } from '../kmip/client/interop-suite';

const dir = mkdtempSync(join(tmpdir(), 'ekmd-pykmip-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('PyKMIP', async (t) => {
  const pki = await makeDevPki(join(dir, 'pki'));
  const server = await startPykmip({ dir: join(dir, 'server'), pki });
  // The data is throwaway: no need to wait out PyKMIP's 4-10 s graceful stop.
  t.teardown(() => server.stop(500));
  interopSuite(t, { kind: 'pykmip', port: server.port, pki });
});
