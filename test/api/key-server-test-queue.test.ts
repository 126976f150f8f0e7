// Key-server tests queue: a burst of them (Modify calls from many clients) runs at most
// MAX_CONCURRENT_TESTS tests at once against the dev key server (plus connections still
// closing), and every test of the burst passes.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDevPki } from '../../scripts/pki/dev-pki';
import {
  KmipKeyServerTester,
  MAX_CONCURRENT_TESTS,
} from '../../src/cluster/key-servers/kmip-tester';
import { DevKmipServer } from '../../src/kmip/server';

t.test('a burst of key-server tests: bounded connections, every test passes', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'ekmd-test-queue-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const pki = await makeDevPki(join(work, 'pki'));
  const read = (p: string) => readFileSync(p, 'utf8');
  const kms = await DevKmipServer.start({
    stateDir: join(work, 'kms'),
    host: '127.0.0.1',
    port: 0,
    ca: read(pki.ca),
    cert: read(pki.server.cert),
    key: read(pki.server.key),
  });
  t.teardown(() => kms.close());

  // A loopback TCP relay in front of the key server that counts open connections.
  let open = 0;
  let most = 0;
  const sockets = new Set<Socket>();
  const relay = createServer((inbound) => {
    open++;
    most = Math.max(most, open);
    const outbound = createConnection(kms.address.port, '127.0.0.1');
    sockets.add(inbound).add(outbound);
    inbound.pipe(outbound).pipe(inbound);
    let closed = false;
    const done = () => {
      if (closed) return;
      closed = true;
      open--;
      inbound.destroy();
      outbound.destroy();
    };
    for (const s of [inbound, outbound]) s.on('close', done).on('error', done);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    relay.close();
  });
  const port = (relay.address() as { port: number }).port;

  const tester = new KmipKeyServerTester({ connectTimeoutMs: 10_000, requestTimeoutMs: 10_000 });
  const burst = MAX_CONCURRENT_TESTS * 4;
  const outcomes = await Promise.all(
    Array.from({ length: burst }, () =>
      tester.test({
        hostnames: ['127.0.0.1'],
        port,
        caCertificate: read(pki.ca),
        clientCertificate: read(pki.client.cert),
        clientKey: Buffer.from(read(pki.client.key)),
      }),
    ),
  );
  t.same(
    outcomes.filter((o) => !o.ok),
    [],
    `all ${burst} tests passed`,
  );
  t.ok(most > 0, `${most} connections at most`);
  // A finished test's connection may still be closing when the next one opens, so the
  // relay can see a few more than the limit; without the queue it sees the whole burst.
  t.ok(most <= 2 * MAX_CONCURRENT_TESTS, `${most} of ${burst} at once: the burst queued`);
});
