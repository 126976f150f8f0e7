// The client's private key as a Buffer, never made a string: the client connects with it,
// a provider zeroes it when closed, and a Buffer that is not a PEM private key is refused.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { KmipClient, KmipProvider } from '../../../src/kmip/client';
import { startDevEks } from '../dev-eks';

t.test('private key as a Buffer', async (t) => {
  const { pki, srv, read } = await startDevEks(t, 'kmip-key-buffer');
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
