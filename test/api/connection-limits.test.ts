// What one client may hold of the API server: connections over the per-client cap (16),
// the total cap (512) or the cap on handshakes in progress (32) are closed at once; a
// stalled TLS handshake is cut within 10 s, stalled request headers within 15 s and a
// stalled request body within 20 s.
import t from 'tap';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { setTimeout as delay } from 'node:timers/promises';
import { API_LIMITS } from '../../src/api/connection-limits';
import { ContactRecorder } from './fixtures';
import { BOOTSTRAP, startNode } from './node';

interface Probe {
  socket: Socket;
  closed: boolean;
  /** Resolves with ms from the start until the server closed the connection. */
  closedAfter: Promise<number>;
}

function probe(socket: Socket): Probe {
  const started = Date.now();
  const p = { socket, closed: false } as Probe;
  p.closedAfter = new Promise((resolve) =>
    socket.once('close', () => {
      p.closed = true;
      resolve(Date.now() - started);
    }),
  );
  socket.on('error', () => undefined);
  socket.resume(); // a reply (408) must be read for the close to show
  return p;
}

async function openRaw(port: number, localAddress: string): Promise<Probe> {
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  const p = probe(socket);
  await new Promise<void>((resolve) => {
    socket.once('connect', resolve);
    socket.once('close', resolve);
  });
  return p;
}

/** A TLS connection from `localAddress`, once its handshake is done. */
function tls(port: number, localAddress: string): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const raw = connect({ host: '127.0.0.1', port, localAddress });
    const s = tlsConnect({ socket: raw, rejectUnauthorized: false });
    const p = probe(s);
    s.once('secureConnect', () => resolve(p));
    s.once('close', () => reject(new Error(`TLS connection from ${localAddress} closed`)));
  });
}

/** ms until the server closes, or `deadlineMs` when it has not closed by then. */
const closedWithin = (p: Probe, deadlineMs: number) =>
  Promise.race([p.closedAfter, delay(deadlineMs).then(() => deadlineMs)]);

t.test('connection caps and timeouts', async (t) => {
  const node = await startNode(t, new ContactRecorder());
  const port = node.api.address.port;
  const opened: Probe[] = [];
  t.teardown(() => opened.forEach((p) => p.socket.destroy()));
  const drop = (probes: Probe[]) => probes.forEach((p) => p.socket.destroy());

  t.test('at most 16 connections per client; another client is not affected', async (t) => {
    const one = await Promise.all(Array.from({ length: 20 }, () => openRaw(port, '127.0.0.7')));
    const other = await openRaw(port, '127.0.0.8');
    opened.push(...one, other);
    await delay(300);
    t.equal(one.filter((p) => p.closed).length, 4, 'the 4 beyond 16 are closed at once');
    t.notOk(other.closed, 'a connection from another address stays open');
    drop([...one, other]);
    await Promise.all([...one, other].map((p) => p.closedAfter));
  });

  t.test('at most 32 handshakes at once; a finished one no longer counts', async (t) => {
    const addresses = Array.from({ length: 40 }, (_, i) => `127.0.4.${i + 1}`);
    const waiting = await Promise.all(addresses.map((a) => openRaw(port, a)));
    opened.push(...waiting);
    await delay(300);
    t.equal(waiting.filter((p) => !p.closed).length, 32, '32 wait in their handshake');
    drop(waiting);
    await Promise.all(waiting.map((p) => p.closedAfter));
    // Handshakes done one after another: each leaves the count when it completes.
    const done: Probe[] = [];
    for (let i = 0; i < 40; i++) done.push(await tls(port, `127.0.5.${i + 1}`));
    opened.push(...done);
    t.equal(done.filter((p) => !p.closed).length, 40, '40 connections after their handshakes');
    drop(done);
    await Promise.all(done.map((p) => p.closedAfter));
  });

  t.test('at most 512 connections in all', async (t) => {
    t.equal(API_LIMITS.maxConnections, 512);
    // Without the handshake cap, so that idle TCP connections can reach the total.
    const wide = await startNode(t, new ContactRecorder(), { limits: { maxHandshakes: 1000 } });
    const addresses = Array.from({ length: 34 }, (_, i) => `127.0.3.${i + 1}`);
    const all = await Promise.all(
      addresses.flatMap((a) => Array.from({ length: 16 }, () => openRaw(wide.api.address.port, a))),
    );
    opened.push(...all);
    await delay(300);
    t.equal(all.length, 544);
    t.equal(all.filter((p) => !p.closed).length, 512, '512 stay open, the rest are closed');
    drop(all);
    await Promise.all(all.map((p) => p.closedAfter));
  });

  t.test('stalled handshake, headers and body are cut', async (t) => {
    // All three at once: each waits for its own timeout.
    const silent = await openRaw(port, '127.0.0.9');
    const [headers, body] = await Promise.all([tls(port, '127.0.0.10'), tls(port, '127.0.0.11')]);
    opened.push(silent, headers, body);
    headers.socket.write('POST /json-rpc/12.3 HTTP/1.1\r\nHost: ekmd\r\nContent-Le');
    const auth = Buffer.from(`${BOOTSTRAP.username}:${BOOTSTRAP.password}`).toString('base64');
    body.socket.write(
      'POST /json-rpc/12.3 HTTP/1.1\r\nHost: ekmd\r\nContent-Length: 1000\r\n' +
        `Authorization: Basic ${auth}\r\n\r\n{"method":"GetAPI",`,
    );
    const [handshakeMs, headersMs, bodyMs] = await Promise.all([
      closedWithin(silent, 13_000),
      closedWithin(headers, 19_000),
      closedWithin(body, 24_000),
    ]);
    t.ok(handshakeMs >= 9_000 && handshakeMs < 12_000, `handshake cut after ${handshakeMs} ms`);
    t.ok(headersMs >= 14_000 && headersMs < 18_000, `headers cut after ${headersMs} ms`);
    t.ok(bodyMs >= 19_000 && bodyMs < 23_000, `body cut after ${bodyMs} ms`);
  });
});
