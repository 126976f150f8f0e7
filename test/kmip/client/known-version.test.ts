// A version remembered from an earlier negotiation is used without Discover Versions; a
// server that refuses it is asked (once) and the message sent again, and the client is told
// what was settled so that it can be remembered.
import t from 'tap';
import { Writable } from 'node:stream';
import pino from 'pino';
import { KmipClient, formatVersion } from '../../../src/kmip/client';
import type { KmipVersion } from '../../../src/kmip/ttlv';
import { startDevEks } from '../dev-eks';

t.test('remembered versions', async (t) => {
  const { pki, srv, read } = await startDevEks(t, 'kmip-known-version');
  const tls = { ca: read(pki.ca), cert: read(pki.client.cert), key: read(pki.client.key) };

  /** A client logging at debug into `msgs`, telling `settled` what it negotiates. */
  function client(knownVersion?: KmipVersion) {
    const msgs: string[] = [];
    const settled: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n'))
          if (line) msgs.push((JSON.parse(line) as { msg: string }).msg);
        done();
      },
    });
    const c = new KmipClient({
      hostnames: ['127.0.0.1'],
      port: srv.address.port,
      ...tls,
      ...(knownVersion ? { knownVersion } : {}),
      onNegotiated: (v) => settled.push(formatVersion(v)),
      logger: pino({ level: 'debug' }, stream),
    });
    t.teardown(() => c.close());
    return { c, msgs, settled, count: (m: string) => msgs.filter((x) => x === m).length };
  }

  const first = client();
  const uid = await first.c.registerSecretData(Buffer.alloc(32, 7));
  t.equal(first.count('kmip version'), 1, 'no memory: negotiated');
  t.equal(first.settled.length, 1, 'and told');
  const settled = first.settled[0]!;
  const [major, minor] = settled.split('.').map(Number) as [number, number];

  await t.test('the remembered version is used without asking', async (t) => {
    const known = client({ major, minor });
    t.equal((await known.c.get(uid)).material.length, 32);
    t.equal((await known.c.get(uid)).material.length, 32);
    t.equal(known.count('kmip version'), 0, 'no Discover Versions');
    t.same(known.settled, [], 'nothing new to remember');
  });

  await t.test('a version the server refuses: negotiated once, message sent again', async (t) => {
    const stale = client({ major: 3, minor: 0 });
    t.equal((await stale.c.get(uid)).material.length, 32, 'the Get still succeeds');
    t.equal(stale.count('kmip version refused; negotiating'), 1);
    t.equal(stale.count('kmip version'), 1);
    t.same(stale.settled, [settled], 'the settled version is told, to be remembered');
    await stale.c.get(uid);
    t.equal(stale.count('kmip version'), 1, 'no second negotiation on this client');
  });

  await t.test('a failure that is not about the version is not retried', async (t) => {
    const known = client({ major, minor });
    const { results } = await known.c.batch([
      { ...(await import('../../../src/kmip/client')).ops.get('no-such-uid') },
    ] as const);
    t.notOk(results[0].ok, 'an item failure stays a failure');
    t.equal(known.count('kmip version refused; negotiating'), 0);
  });
});
