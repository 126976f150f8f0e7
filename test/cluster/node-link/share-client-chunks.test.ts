// The share client zeroes every piece of a peer's answer it was handed, on every way out:
// a peer that sends part of a body then resets the connection, one that sends too much, and
// a whole answer. The pieces are caught as the response hands them to its 'data' listeners
// (the same Buffers the client receives); the peer is a real TLS server on loopback
// presenting the certificate the client pins.
import { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { nodeLinkIdentity } from '../../../src/cluster/node-link/link-identity';
import { fetchPeerShare, PeerShareError } from '../../../src/cluster/node-link/share-client';
import type { TlsIdentity } from '../../../src/cluster/self-signed';
import { openSealer } from '../../../src/store';

/** Every Buffer a response hands its 'data' listeners while `t` runs. */
function catchChunks(t: { teardown(fn: () => unknown): void }): Buffer[] {
  const seen: Buffer[] = [];
  const emit = IncomingMessage.prototype.emit;
  IncomingMessage.prototype.emit = function (this: IncomingMessage, event: string, ...args: any[]) {
    if (event === 'data' && Buffer.isBuffer(args[0])) seen.push(args[0]);
    return emit.call(this, event, ...args);
  } as typeof emit;
  t.teardown(() => {
    IncomingMessage.prototype.emit = emit;
  });
  return seen;
}

/** A peer answering 200 with `send`, which writes what it likes to the response. */
async function peer(
  t: { teardown(fn: () => unknown): void },
  identity: TlsIdentity,
  send: (res: import('node:http').ServerResponse) => void,
): Promise<number> {
  const server: Server = createServer({ cert: identity.cert, key: identity.key }, (_req, res) =>
    send(res),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return (server.address() as { port: number }).port;
}

/** Rejects after `ms` if `p` has not settled: a client that hangs fails the test. */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled in ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const zero = (b: Buffer) => b.every((x) => x === 0);

t.test('every chunk of an answer is zeroed, whichever way it ends', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'ekmd-chunks-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const sealer = openSealer({ stateDir: root });
  const identity = () => nodeLinkIdentity(root, sealer, 'peer');
  const certificate = (await identity()).cert;
  const own = await identity();
  const ask = (port: number) =>
    within(fetchPeerShare({ host: '127.0.0.1', port, certificate }, own, 1, 3000), 10_000);

  await t.test('part of a body, then the connection reset', async (t) => {
    const seen = catchChunks(t);
    const port = await peer(t, await identity(), (res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 64 });
      res.write(Buffer.alloc(24, 0xa5), () => setTimeout(() => res.socket?.destroy(), 50));
    });
    const err = await ask(port).catch((e: unknown) => e);
    t.type(err, PeerShareError, String(err));
    t.equal((err as PeerShareError).reason, 'unreachable');
    t.match((err as PeerShareError).message, `127.0.0.1:${port}`);
    t.ok(seen.length > 0, 'part of the body reached the client');
    t.ok(seen.every(zero), 'and every piece of it is zero');
  });

  await t.test('an answer too long', async (t) => {
    const seen = catchChunks(t);
    const port = await peer(t, await identity(), (res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      for (let i = 0; i < 8; i++) res.write(Buffer.alloc(1024, 0x5a));
      res.end();
    });
    const err = await ask(port).catch((e: unknown) => e);
    t.match(err, { reason: 'refused', message: /answer too long/ });
    t.ok(seen.length > 0);
    t.ok(seen.every(zero), 'every piece zero, those after the refusal too');
  });

  await t.test('a whole answer: the share is the caller’s, the pieces are zero', async (t) => {
    const seen = catchChunks(t);
    const port = await peer(t, await identity(), (res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(16, 0x11));
      res.end(Buffer.alloc(16, 0x22));
    });
    const share = await ask(port);
    t.same(share, Buffer.concat([Buffer.alloc(16, 0x11), Buffer.alloc(16, 0x22)]));
    t.ok(seen.length > 0);
    t.ok(seen.every(zero));
  });
});
