// `ekmctl kmip probe` and `ekmctl kmip get` against an in-process dev key server.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { makeDevPki } from '../../../scripts/pki/dev-pki';
import { KmipClient } from '../../../src/kmip/client';
import { DevKmipServer } from '../../../src/kmip/server';
import { bin } from '../../helpers/paths';
import { deadPort } from './interop-suite';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'ekmd-kmipcli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('probe and get', async (t) => {
  const pki = await makeDevPki(join(dir, 'pki'));
  const pem = (p: string): string => readFileSync(p, 'utf8');
  const server = await DevKmipServer.start({
    stateDir: join(dir, 'state'),
    host: '127.0.0.1',
    port: 0,
    ca: pem(pki.ca),
    cert: pem(pki.server.cert),
    key: pem(pki.server.key),
  });
  t.teardown(() => server.close());
  const port = server.address.port;
  const tlsFlags = [
    '--port',
    String(port),
    '--ca',
    pki.ca,
    '--cert',
    pki.client.cert,
    '--key',
    pki.client.key,
  ];
  const ekmctl = (...args: string[]) => run(process.execPath, [bin.ekmctl, 'kmip', ...args]);

  const material = Buffer.alloc(32, 0x2a);
  const client = new KmipClient({
    hostnames: ['127.0.0.1'],
    port,
    ca: pem(pki.ca),
    cert: pem(pki.client.cert),
    key: pem(pki.client.key),
  });
  const uid = await client.registerSecretData(Buffer.from(material), { names: ['drive-ak-1'] });
  await client.activate(uid);
  client.close();

  t.test('probe --json names versions, operations and TLS', async (t) => {
    const { stdout } = await ekmctl('probe', '--host', '127.0.0.1', ...tlsFlags, '--json');
    const r = JSON.parse(stdout);
    t.equal(r.endpoint, `127.0.0.1:${port}`);
    t.equal(r.version, '1.4');
    t.same(r.serverVersions, ['2.0', '1.4', '1.3', '1.2', '1.1', '1.0']);
    t.ok(r.operations.includes('Get') && r.operations.includes('DiscoverVersions'));
    t.match(r.tls.protocol, /^TLSv1\.[23]$/);
    t.type(r.roundTripMs, 'number');
  });

  t.test('get prints the SHA-256 of the material, never the material', async (t) => {
    const { stdout } = await ekmctl('get', uid, '--host', '127.0.0.1', ...tlsFlags);
    t.match(
      stdout,
      new RegExp(`sha256\\s+${createHash('sha256').update(material).digest('hex')}\\n`),
    );
    t.match(stdout, /object type\s+SecretData/);
    t.match(stdout, /state\s+Active/);
    t.match(stdout, /names\s+drive-ak-1/);
    t.notOk(stdout.includes(material.toString('hex')), 'no hex material');
    t.notOk(stdout.includes('*'.repeat(32)), 'no raw material');
  });

  t.test('errors: unknown UID and a dead server exit 1 naming the stage', async (t) => {
    const missing = await ekmctl('get', 'nope', '--host', '127.0.0.1', ...tlsFlags, '--json').catch(
      (e) => e,
    );
    t.equal(missing.code, 1);
    t.match(JSON.parse(missing.stdout).error, { stage: 'kmip', resultReason: 1 });
    const dead = String(await deadPort());
    const down = await ekmctl('probe', '--host', '127.0.0.1', ...tlsFlags, '--port', dead).catch(
      (e) => e,
    );
    t.equal(down.code, 1);
    t.match(down.stderr, new RegExp(`127\\.0\\.0\\.1:${dead}: connect: .*ECONNREFUSED`));
  });

  t.test('usage errors exit 2', async (t) => {
    const noHost = await ekmctl('probe', ...tlsFlags).catch((e) => e);
    t.equal(noHost.code, 2);
    t.match(noHost.stderr, /--host is required/);
    const noUid = await ekmctl('get', '--host', '127.0.0.1', ...tlsFlags).catch((e) => e);
    t.equal(noUid.code, 2);
  });
});
