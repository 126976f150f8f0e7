// A provider whose first key server is a black hole, over real sockets: one that accepts
// and never answers, and one that completes TLS and never answers a request. The second
// (a dev key server) answers well before the first's timeouts, the first is reported and
// its socket closed, the second is not reported, and no request reaches a server twice.
import t, { type Test } from 'tap';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { KmipProvider, type KmipServerOptions } from '../../../src/kmip/client';
import { startDevEks, type FaultyKeyServer } from '../dev-eks';

const TIMEOUT_MS = 10_000;

interface BlackHole {
  port: number;
  /** Whole KMIP messages received (by their TTLV length). */
  messages(): number;
  /** Connections still open at the black hole. */
  open(): number;
}

/** Accepts TCP connections and never sends a byte. */
async function tcpBlackHole(t: Test): Promise<BlackHole> {
  const sockets = new Set<Socket>();
  const srv = createServer((s) => {
    sockets.add(s);
    s.resume(); // read (and drop) what comes, so that the client's close is seen
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  return listen(t, srv, { messages: () => 0, open: () => sockets.size });
}

/** Completes the TLS handshake (as the key server would), then never answers. */
async function tlsBlackHole(t: Test, eks: FaultyKeyServer): Promise<BlackHole> {
  const sockets = new Set<TLSSocket>();
  let received = Buffer.alloc(0);
  const srv = createTlsServer(
    {
      ca: eks.read(eks.pki.ca),
      cert: eks.read(eks.pki.server.cert),
      key: eks.read(eks.pki.server.key),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (s) => {
      sockets.add(s);
      s.on('data', (c: Buffer) => (received = Buffer.concat([received, c])));
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    },
  );
  const messages = () => {
    let n = 0;
    for (let at = 0; at + 8 <= received.length; n++) at += 8 + received.readUInt32BE(at + 4);
    return n;
  };
  return listen(t, srv, { messages, open: () => sockets.size });
}

async function listen(t: Test, srv: Server, counts: Omit<BlackHole, 'port'>): Promise<BlackHole> {
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => srv.close(resolve)));
  const port = (srv.address() as { port: number }).port;
  return { port, ...counts };
}

function serverOptions(eks: FaultyKeyServer, port: number, over: Partial<KmipServerOptions> = {}) {
  return {
    hostnames: ['127.0.0.1'],
    port,
    ca: eks.read(eks.pki.ca),
    cert: eks.read(eks.pki.client.cert),
    key: eks.read(eks.pki.client.key),
    connectTimeoutMs: TIMEOUT_MS,
    requestTimeoutMs: TIMEOUT_MS,
    ...over,
  };
}

/** Waits (bounded) until `fn` holds: a closed socket's far end sees it a moment later. */
async function eventually(fn: () => boolean): Promise<boolean> {
  for (let i = 0; i < 200 && !fn(); i++) await new Promise((r) => setTimeout(r, 10));
  return fn();
}

async function keysAt(eks: FaultyKeyServer): Promise<string[]> {
  const p = new KmipProvider([serverOptions(eks, eks.srv.address.port)]);
  try {
    return [
      await p.registerSecretData(Buffer.alloc(32, 1)),
      await p.registerSecretData(Buffer.alloc(32, 2)),
    ];
  } finally {
    p.close();
  }
}

const PINNED = { version: { major: 1, minor: 4 } };

for (const kind of ['accepts, never answers', 'TLS, then no answer to the Get'] as const) {
  t.test(`first server black-holed (${kind}), second healthy`, async (t) => {
    const eks = await startDevEks(t, 'kmip-black-hole');
    const uids = await keysAt(eks);
    const hole =
      kind === 'accepts, never answers' ? await tcpBlackHole(t) : await tlsBlackHole(t, eks);
    // Pinned: the second kind completes its connection and then holds the Get itself.
    const provider = new KmipProvider([
      serverOptions(eks, hole.port, PINNED),
      serverOptions(eks, eks.srv.address.port, PINNED),
    ]);
    t.teardown(() => provider.close());
    const started = performance.now();
    const out = await provider.getMany(uids);
    const ms = performance.now() - started;
    t.ok(ms < TIMEOUT_MS / 2, `answered long before the first's timeout (${Math.round(ms)} ms)`);
    t.equal(out.endpoint, `127.0.0.1:${eks.srv.address.port}`, 'the second answered');
    t.same(
      out.results.map((r) => r.ok && r.value.material[0]),
      [1, 2],
      'with the keys',
    );
    t.equal(provider.lastAnswered, 1);
    t.same(
      provider.lastFailures.map((f) => [f.index, f.error.stage, f.error.timedOut]),
      [[0, kind === 'accepts, never answers' ? 'tls' : 'response', true]],
      'the black hole reported, the healthy one not',
    );
    t.ok(await eventually(() => hole.open() === 0), 'the black-holed connection closed');
    t.equal(
      hole.messages(),
      kind === 'accepts, never answers' ? 0 : 1,
      'the Get reached a connected black hole once, no other one',
    );
    for (const r of out.results) if (r.ok) r.value.material.fill(0);
  });
}

t.test(
  'a write goes to one server at a time: the second only after the first timed out',
  async (t) => {
    const eks = await startDevEks(t, 'kmip-black-hole-write');
    const hole = await tlsBlackHole(t, eks);
    const provider = new KmipProvider([
      serverOptions(eks, hole.port, { ...PINNED, requestTimeoutMs: 1500 }),
      serverOptions(eks, eks.srv.address.port, PINNED),
    ]);
    t.teardown(() => provider.close());
    const uid = await provider.registerSecretData(Buffer.alloc(32, 9));
    t.type(uid, 'string', 'registered at the second');
    t.equal(hole.messages(), 1, 'the Register reached the black hole once');
    t.match(
      provider.lastFailures.map((f) => f.error.message),
      [/no response within 1500 ms/],
      "failed over on the first's own timeout, not hedged",
    );
    t.ok(await eventually(() => hole.open() === 0), 'its connection closed');
  },
);

t.test('both healthy: the first answers, the second is never contacted', async (t) => {
  const eks = await startDevEks(t, 'kmip-both-healthy');
  const uids = await keysAt(eks);
  const port = eks.srv.address.port;
  const provider = new KmipProvider([serverOptions(eks, port), serverOptions(eks, port)]);
  t.teardown(() => provider.close());
  const out = await provider.getMany(uids);
  t.ok(out.results.every((r) => r.ok));
  t.equal(provider.lastAnswered, 0);
  t.same(provider.lastFailures, []);
  t.equal(provider.servers[1]!.tlsInfo, undefined, 'no connection to the second');
  for (const r of out.results) if (r.ok) r.value.material.fill(0);
});

t.test('preconnect races the connections before the request comes', async (t) => {
  const eks = await startDevEks(t, 'kmip-preconnect');
  const uids = await keysAt(eks);
  const hole = await tcpBlackHole(t);
  const provider = new KmipProvider([
    serverOptions(eks, hole.port),
    serverOptions(eks, eks.srv.address.port),
  ]);
  t.teardown(() => provider.close());
  provider.preconnect();
  t.ok(
    await eventually(() => provider.servers[1]!.tlsInfo !== undefined),
    'the second connected while the first held its handshake',
  );
  const out = await provider.getMany(uids);
  t.equal(provider.lastAnswered, 1);
  t.same(
    provider.lastFailures.map((f) => f.index),
    [0],
  );
  t.ok(await eventually(() => hole.open() === 0), 'the black-holed connection closed');
  for (const r of out.results) if (r.ok) r.value.material.fill(0);
});

t.test('closing the provider mid-handshake leaves no socket open', async (t) => {
  const eks = await startDevEks(t, 'kmip-close-mid-handshake');
  const hole = await tcpBlackHole(t);
  const provider = new KmipProvider([serverOptions(eks, hole.port)]);
  const answer = provider.getMany(['1']);
  t.ok(await eventually(() => hole.open() === 1), 'connection accepted');
  provider.close();
  await t.rejects(answer, /closed/);
  t.ok(await eventually(() => hole.open() === 0), 'closed at the black hole');
});
