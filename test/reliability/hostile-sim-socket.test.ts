// The simulator's socket server under hostile ioctl frames: bad fds, request numbers and
// bufLen values get error answers; a malformed stream costs only that client.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { IOC_OPAL_GET_STATUS } from '../../src/opal/abi';
import { encodeFrame, FrameDecoder, type Frame } from '../../src/opal/sim-socket/frame';
import { SimServer } from '../../src/sim/server';
import { Simulator } from '../../src/sim/simulator';

const dir = mkdtempSync(join(tmpdir(), 'ekmd-hostile-simsock-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** A raw client: send frames or bytes, read answers in order. */
async function rawClient(path: string): Promise<{
  socket: Socket;
  ask(header: object, payload?: Buffer): Promise<Frame>;
  closed: Promise<void>;
}> {
  const socket = connect(path);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const decoder = new FrameDecoder();
  const waiting: ((f: Frame) => void)[] = [];
  socket.on('data', (c: Buffer) => decoder.push(c).forEach((f) => waiting.shift()?.(f)));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    closed,
    ask: (header, payload) =>
      new Promise((resolve) => {
        waiting.push(resolve);
        socket.write(encodeFrame(header, payload));
      }),
  };
}

t.test('hostile ioctl frames', async (t) => {
  const sim = new Simulator({ stateDir: join(dir, 'state'), drives: 1, sizeMiB: 4 });
  const server = new SimServer(sim, join(dir, 'sim.sock'));
  await server.listen();
  t.teardown(async () => {
    await server.close();
    sim.close();
  });
  const c = await rawClient(server.socketPath);
  t.teardown(() => c.socket.destroy());
  const { header: opened } = await c.ask({ id: 1, op: 'open', path: 'sim:0' });
  const fd = opened.fd as number;
  const status = IOC_OPAL_GET_STATUS.request;
  const hostile: [string, object, Buffer?][] = [
    ['request a string', { op: 'ioctl', fd, request: 'GET_STATUS' }],
    ['request negative', { op: 'ioctl', fd, request: -1 }],
    ['request past 32 bits', { op: 'ioctl', fd, request: 2 ** 32 }],
    ['fd unknown', { op: 'ioctl', fd: 999, request: status }, Buffer.alloc(8)],
    ['fd a float', { op: 'ioctl', fd: 3.5, request: status }],
    ['bufLen past the payload', { op: 'ioctl', fd, request: status, bufLen: 9 }, Buffer.alloc(8)],
    ['bufLen negative', { op: 'ioctl', fd, request: status, bufLen: -8 }, Buffer.alloc(8)],
    ['wrong size', { op: 'ioctl', fd, request: status }, Buffer.alloc(7)],
    ['unknown request', { op: 'ioctl', fd, request: 0x7fff }, Buffer.alloc(900_000)],
    ['unknown op', { op: '__proto__' }],
  ];
  let id = 2;
  for (const [what, header, payload] of hostile) {
    const { header: h } = await c.ask({ id: id++, ...header }, payload);
    const refused = h.ok === false || (typeof h.rc === 'number' && h.rc < 0 && h.errno === -h.rc);
    t.ok(refused, `${what}: refused (${JSON.stringify(h).slice(0, 120)})`);
  }
  const { header: ok } = await c.ask(
    { id: id++, op: 'ioctl', fd, request: status },
    Buffer.alloc(8),
  );
  t.equal(ok.rc, 0, 'a well-formed ioctl on the same connection still works');

  const bad = Buffer.alloc(8);
  bad.writeUInt32BE(0xffffffff, 0);
  c.socket.write(bad);
  await c.closed;
  t.pass('a malformed frame disconnects that client');
  const other = await rawClient(server.socketPath);
  t.teardown(() => other.socket.destroy());
  const { header: list } = await other.ask({ id: 1, op: 'list' });
  t.equal((list.drives as unknown[]).length, 1, 'other clients are still served');
});
