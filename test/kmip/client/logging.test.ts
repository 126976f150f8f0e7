// The client logs endpoints, stages and timings at debug level, never key material.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import t from 'tap';
import { makeDevPki } from '../../../scripts/pki/dev-pki';
import { KmipClient, KmipProvider } from '../../../src/kmip/client';
import { DevKmipServer } from '../../../src/kmip/server';
import { deadPort } from './interop-suite';

const dir = mkdtempSync(join(tmpdir(), 'ekmd-kmiplog-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('no key material in debug logs; failover is logged with its stage', async (t) => {
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
  let log = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      log += chunk.toString();
      cb();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const base = {
    hostnames: ['127.0.0.1'],
    ca: pem(pki.ca),
    cert: pem(pki.client.cert),
    key: pem(pki.client.key),
    logger,
  };
  const provider = new KmipProvider(
    [
      { ...base, port: await deadPort() },
      { ...base, port: server.address.port },
    ],
    { logger },
  );
  t.teardown(() => provider.close());
  const secret = Buffer.from(
    'c0ffee00deadbeef0123456789abcdeffedcba98765432100011223344556677',
    'hex',
  );
  const uid = await provider.registerSecretData(Buffer.from(secret));
  const got = await provider.get(uid);
  t.same(got.material, secret);
  got.material.fill(0);
  t.match(log, /"stage":"connect"/, 'the failed server is logged with its stage');
  t.match(log, /kmip batch/);
  for (const enc of ['hex', 'base64'] as const) {
    t.notOk(log.includes(secret.toString(enc)), `no ${enc} material`);
  }
  t.notOk(log.includes('BEGIN RSA PRIVATE KEY'), 'no private key');
});

t.test('bad configuration is refused before any connection', async (t) => {
  t.throws(() => new KmipClient({ hostnames: [], ca: '', cert: '', key: '' }), /^config: /);
  t.throws(
    () =>
      new KmipClient({
        hostnames: ['127.0.0.1'],
        port: 70000,
        ca: '-----BEGIN CERTIFICATE-----',
        cert: '-----BEGIN CERTIFICATE-----',
        key: '-----BEGIN PRIVATE KEY-----',
      }),
    /invalid port/,
  );
  t.throws(() => new KmipProvider([]), /^config: /);
});
