// The client's request observer: one event per message with the endpoint that answered,
// the operation, and ok / partial / failed; nothing once unsubscribed.
import t from 'tap';
import { createServer } from 'node:net';
import { KmipClient, onKmipRequest, ops, type KmipRequestEvent } from '../../../src/kmip/client';
import { startDevEks } from '../dev-eks';

t.test('events per message', async (t) => {
  const { pki, srv, read } = await startDevEks(t, 'kmip-observer');
  const tls = { ca: read(pki.ca), cert: read(pki.client.cert), key: read(pki.client.key) };
  const client = new KmipClient({ hostnames: ['127.0.0.1'], port: srv.address.port, ...tls });
  t.teardown(() => client.close());

  const events: KmipRequestEvent[] = [];
  const off = onKmipRequest((e) => events.push(e));
  const uid = await client.registerSecretData(Buffer.alloc(32, 7));
  const { results } = await client.batch([ops.get(uid), ops.get('no-such-uid')] as const);
  t.ok(results[0].ok && !results[1].ok);
  await client.batch([ops.get(uid), ops.getAttributes(uid)] as const);
  const endpoint = `127.0.0.1:${srv.address.port}`;
  t.same(
    events.map((e) => [e.endpoint, e.operation, e.result]),
    [
      [endpoint, 'Register', 'ok'],
      [endpoint, 'Get', 'partial'],
      [endpoint, 'Batch', 'ok'],
    ],
  );
  t.ok(events.every((e) => e.ms >= 0 && Number.isFinite(e.ms)));

  // Nobody listening on the port: the message fails at connect.
  const closed = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
  const dead = new KmipClient({ hostnames: ['127.0.0.1'], port: closed, ...tls });
  await t.rejects(dead.get('1'));
  t.same(events.at(-1), { ...events.at(-1), endpoint: `127.0.0.1:${closed}`, result: 'failed' });

  off();
  const before = events.length;
  await client.get(uid);
  t.equal(events.length, before, 'no events once unsubscribed');

  // A throwing observer does not fail the request.
  const offBad = onKmipRequest(() => {
    throw new Error('observer bug');
  });
  t.teardown(offBad);
  t.equal((await client.get(uid)).material.length, 32);
});
