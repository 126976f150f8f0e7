// The client's private key as a Buffer, never made a string: the client connects with it,
// a provider zeroes it when closed, and a Buffer that is not a PEM private key is refused.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDevPki } from '../../../scripts/pki/dev-pki';
import { KmipClient, KmipProvider } from '../../../src/kmip/client';
import { DevKmipServer } from '../../../src/kmip/server';

t.test('private key as a Buffer', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-kmip-key-buffer-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pki = await makeDevPki(join(dir, 'pki'));
  const read = (p: string) => readFileSync(p, 'utf8');
  const srv = await DevKmipServer.start({
    stateDir: join(dir, 'eks'),
    host: '127.0.0.1',
    port: 0,
    ca: read(pki.ca),
    cert: read(pki.server.cert),
    key: read(pki.server.key),
  });
  t.teardown(() => srv.close());
  const server = (key: Buffer) => ({
    hostnames: ['127.0.0.1'],
    port: srv.address.port,
    ca: read(pki.ca),
    cert: read(pki.client.cert),
    key,
  });

  const key = readFileSync(pki.client.key);
  const provider = new KmipProvider([server(key)], { zeroOnClose: [key] });
  const uid = await provider.registerSecretData(Buffer.alloc(32, 3));
  t.equal((await provider.get(uid)).material.length, 32, 'connected with the Buffer key');
  t.notOk(
    key.every((b) => b === 0),
    'kept while the provider is open',
  );
  provider.close();
  t.ok(
    key.every((b) => b === 0),
    'zeroed when the provider closes',
  );

  t.throws(
    () => new KmipClient(server(Buffer.from('not a key at all'))),
    /key must be a PEM private key/,
  );
  t.throws(
    () => new KmipClient(server(Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n'))),
    /key must be a PEM private key/,
    'a certificate is not a private key',
  );
});
