import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createTcpServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDevPki, type DevPki, type PkiIdentity } from '../../scripts/pki/dev-pki';
import { startPykmip } from '../../scripts/pykmip/pykmip-server';
import { parseConfig } from '../../src/daemon/config';
import { keyServerTester } from '../../src/daemon/key-server-tester';

const dir = mkdtempSync(join(tmpdir(), 'ekmd-tester-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const read = (p: string) => readFileSync(p, 'utf8');
const tester = keyServerTester(
  parseConfig(
    {
      stateDir: 's',
      drives: { backend: 'sim', sim: { socket: 's' } },
      kmip: { connectTimeoutMs: 2000 },
    },
    { source: 'test', baseDir: dir },
  ),
);
const endpoint = (pki: DevPki, port: number, client: PkiIdentity = pki.client) => ({
  hostnames: ['127.0.0.1'],
  port,
  caCertificate: read(pki.ca),
  clientCertificate: read(client.cert),
  clientKey: readFileSync(client.key),
});

t.test('key server tests name the step that failed', async (t) => {
  const pki = await makeDevPki(join(dir, 'pki'));

  t.test('nothing listening: connect', async (t) => {
    const probe = createTcpServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const outcome = await tester.test(endpoint(pki, port));
    t.match(outcome, { ok: false, failedStep: 'connect' });
  });

  t.test('a server the CA did not sign: tls', async (t) => {
    const server = createTlsServer({
      cert: read(pki.untrustedServer.cert),
      key: read(pki.untrustedServer.key),
    });
    server.on('tlsClientError', () => {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise((r) => server.close(r)));
    const outcome = await tester.test(endpoint(pki, (server.address() as { port: number }).port));
    t.match(outcome, { ok: false, failedStep: 'tls' });
  });

  t.test('PyKMIP: Discover Versions and Query succeed; no clientAuth is refused', async (t) => {
    const kmip = await startPykmip({
      dir: join(dir, 'pykmip'),
      pki: { ca: pki.ca, server: pki.server, client: pki.client },
    });
    t.teardown(() => kmip.stop(2000));
    const ok = await tester.test(endpoint(pki, kmip.port));
    t.match(ok, { ok: true, kmipVersion: /^[12]\.\d$/ });
    const refused = await tester.test(endpoint(pki, kmip.port, pki.noClientAuth));
    t.match(refused, { ok: false, failedStep: 'tls', message: /auth/ });
    t.notMatch(JSON.stringify(refused), /PRIVATE KEY/, 'no key material in the outcome');
  });
});
