// The KMIP client reading a hostile key server (garbage, truncations, huge length claims,
// stalls, early closes, mutated and doubled messages): KmipError only, no hang, no crash.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { makeDevPki } from '../../scripts/pki/dev-pki';
import { KmipClient } from '../../src/kmip/client';
import { runFuzz } from '../../scripts/reliability/fuzz/runner';
import {
  HostileKmipServer,
  kmipClientTarget,
} from '../../scripts/reliability/fuzz/targets/kmip-server';
import { sharedDir } from '../helpers/paths';

const messagesDir = join(sharedDir, 'kmip-messages');

t.test(
  'hostile answers to Get',
  { skip: existsSync(messagesDir) ? false : `no captured KMIP messages in ${messagesDir}` },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ekmd-hostile-kmip-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const pki = await makeDevPki(dir);
    const pem = (p: string): string => readFileSync(p, 'utf8');
    const server = await HostileKmipServer.start({
      ca: pem(pki.ca),
      cert: pem(pki.server.cert),
      key: pem(pki.server.key),
    });
    t.teardown(() => server.close());
    const client = new KmipClient({
      hostnames: ['127.0.0.1'],
      port: server.port,
      ca: pem(pki.ca),
      cert: pem(pki.client.cert),
      key: pem(pki.client.key),
      // Pinned to the captured messages' version: every Get is one exchange.
      version: { major: 1, minor: 2 },
      connectTimeoutMs: 3000,
      requestTimeoutMs: 150,
    });
    t.teardown(() => client.close());
    const responses = readdirSync(messagesDir)
      .filter((f) => f.endsWith('.resp.ttlv'))
      .map((f) => readFileSync(join(messagesDir, f)));
    const report = await runFuzz(kmipClientTarget(client, server, responses), {
      iterations: 120,
      seed: 0xbad5,
      // Well above the request timeout: only a client that stops timing out hangs.
      hangMs: 10_000,
    });
    t.same(report.failures, [], 'no crash or hang to replay');
    t.equal(report.counts.crash + report.counts.hang, 0, 'zero crashes and hangs');
    t.ok(report.counts.rejected > 0, 'hostile answers end in KmipError');
    t.ok(report.counts.accepted > 0, 'intact answers still work after hostile ones');
    t.ok(report.heapGrowthBytes < 64 * 1024 * 1024, 'bounded heap');
    t.ok(report.heapGrowthBytes < 64 * 1024 * 1024, 'bounded heap');
  },
);
