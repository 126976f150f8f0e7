import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  IOC_OPAL_DISCOVERY,
  IOC_OPAL_GET_STATUS,
  TcgStatus,
  encodeOpalDiscovery,
} from '../../src/opal/abi';
import pino, { type Logger } from 'pino';
import { parseLevel0 } from '../../src/opal/drive/discovery';
import { RecordingTransport } from '../../src/opal/recording-transport';
import type { InventoryEvent } from '../../src/opal/inventory';
import { SimDataPath } from '../../src/opal/sim-socket/datapath';
import { SimInventory } from '../../src/opal/sim-socket/inventory';
import { SimTransport } from '../../src/opal/sim-socket/transport';
import { SimServer } from '../../src/sim/server';
import { Simulator } from '../../src/sim/simulator';
import { encodeFrame } from '../../src/opal/sim-socket/frame';
import { lockUnlock, provision, save, statusFlags, type Ioctl } from './opal-ops';

async function serve(t: tap.Test, logger?: Logger) {
  const dir = mkdtempSync(join(tmpdir(), 'ekmd-sim-'));
  const socketPath = join(dir, 'sim.sock');
  const sim = new Simulator({ stateDir: join(dir, 'state'), drives: 2, sizeMiB: 2, logger });
  const server = new SimServer(sim, socketPath, logger);
  await server.listen();
  t.teardown(async () => {
    await server.close();
    sim.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { sim, socketPath };
}

async function transport(t: tap.Test, socketPath: string, path = 'sim:0') {
  const tr = new SimTransport(socketPath);
  t.teardown(() => tr.end());
  const fd = await tr.open(path);
  const io: Ioctl = (req, buf) => tr.ioctl(fd, req, buf);
  return { tr, fd, io };
}

t.test('the simulator receives exactly the bytes the encoders produced', async (t) => {
  const { sim, socketPath } = await serve(t);
  const received: Buffer[] = [];
  const inner = sim.ioctl.bind(sim);
  sim.ioctl = (n, req, buf, data) => {
    received.push(Buffer.from(buf));
    return inner(n, req, buf, data);
  };
  const tr = new RecordingTransport({ inner: new SimTransport(socketPath) });
  const fd = await tr.open('sim:0');
  const io: Ioctl = (req, buf) => tr.ioctl(fd, req, buf);
  const pin = randomBytes(32);
  t.same(await provision(io, pin), [0, 0, 0]);
  await lockUnlock(io, pin);
  await save(io, pin);
  t.equal(received.length, tr.ioctls.length);
  tr.ioctls.forEach((call, i) => t.same(received[i], call.bytes, `${call.name} byte for byte`));
});

t.test('scenario through the socket: lock, wrong PIN, lockout, power cycle', async (t) => {
  const { sim, socketPath } = await serve(t);
  const { io } = await transport(t, socketPath);
  const pin = randomBytes(32);
  await provision(io, pin);
  sim.powerCycle(0);
  t.equal((await lockUnlock(io, randomBytes(32))).rc, TcgStatus.NOT_AUTHORIZED);
  t.equal(sim.drive(0).status().tries.admin1, 1);
  for (let i = 0; i < 4; i++) await lockUnlock(io, randomBytes(32));
  t.equal((await lockUnlock(io, pin)).rc, TcgStatus.AUTHORITY_LOCKED_OUT);
  sim.powerCycle(0);
  t.same(await lockUnlock(io, pin), { rc: 0, errno: 0 });
});

t.test('GET_STATUS answers are written back into the caller buffer', async (t) => {
  const { socketPath } = await serve(t);
  const { io } = await transport(t, socketPath);
  t.equal(await statusFlags(io), 0x03, 'SUPPORTED | LOCKING_SUPPORTED on a fresh drive');
});

t.test('DISCOVERY carries its data buffer beside the struct', async (t) => {
  const { socketPath } = await serve(t);
  const { tr, fd } = await transport(t, socketPath);
  const out = Buffer.alloc(2048);
  const buf = encodeOpalDiscovery({ data: 0n, size: BigInt(out.length) });
  const r = await tr.ioctlWithData(fd, IOC_OPAL_DISCOVERY.request, buf, out);
  // Like the kernel: the answer is the header's length field (which excludes itself), and
  // only that many bytes are copied, so the last 4 bytes of the response stay zero.
  t.equal(r.rc, 128, 'a byte count');
  t.same(out.subarray(128, 132), Buffer.alloc(4));
  const l0 = parseLevel0(out);
  t.same(
    l0.features.map((f) => f.name),
    ['TPer', 'Locking', 'Geometry', 'Opal v2'],
  );
  t.equal(l0.locking?.lockingSupported, true);
  t.equal(l0.locking?.lockingEnabled, false);
});

t.test('open, close and bad handles behave like the syscalls', async (t) => {
  const { sim, socketPath } = await serve(t);
  const tr = new SimTransport(socketPath);
  t.teardown(() => tr.end());
  await t.rejects(tr.open('sim:9'), { code: 'ENOENT' });
  await t.rejects(tr.open('/dev/sda'), { code: 'ENOENT' });
  const fd = await tr.open('sim:1');
  t.same(await tr.ioctl(fd + 100, IOC_OPAL_GET_STATUS.request, Buffer.alloc(8)), {
    rc: -9,
    errno: 9,
  });
  await t.rejects(tr.ioctl(fd, IOC_OPAL_GET_STATUS.request, Buffer.alloc(7)), RangeError);
  sim.unplug(1);
  t.same(await tr.ioctl(fd, IOC_OPAL_GET_STATUS.request, Buffer.alloc(8)), {
    rc: -19,
    errno: 19,
  });
  sim.plug(1);
  t.same(
    await tr.ioctl(fd, IOC_OPAL_GET_STATUS.request, Buffer.alloc(8)),
    { rc: -19, errno: 19 },
    'a handle from before the hot-remove stays dead',
  );
  const fresh = await tr.open('sim:1');
  t.equal((await tr.ioctl(fresh, IOC_OPAL_GET_STATUS.request, Buffer.alloc(8))).rc, 0);
  await tr.close(fd);
  await t.rejects(tr.close(fd), { code: 'EBADF' });
});

t.test('inventory: list and plug/unplug/relock events', async (t) => {
  const { sim, socketPath } = await serve(t);
  const inv = new SimInventory(socketPath);
  t.teardown(() => inv.close());
  const list = await inv.list();
  t.same(
    list.map((d) => [d.path, d.opal, d.capacityBytes]),
    [
      ['sim:0', true, 2 * 1024 * 1024],
      ['sim:1', true, 2 * 1024 * 1024],
    ],
  );
  const events: InventoryEvent[] = [];
  inv.watch((e) => events.push(e));
  await inv.ready();
  const { io } = await transport(t, socketPath);
  const pin = randomBytes(32);
  await provision(io, pin);
  sim.unplug(1);
  sim.plug(1);
  sim.powerCycle();
  await new Promise((r) => setTimeout(r, 50));
  t.same(
    events.map((e) => [e.type, 'path' in e ? e.path : e.drive.path]),
    [
      ['removed', 'sim:1'],
      ['added', 'sim:1'],
      ['relocked', 'sim:0'],
    ],
  );
  t.equal((await inv.list()).length, 2);
});

t.test('DataPath attaches a DEK over the socket', async (t) => {
  const { sim, socketPath } = await serve(t);
  const dp = new SimDataPath(socketPath);
  t.teardown(() => dp.close());
  const serial = sim.drive(0).rec.serial;
  const dek = randomBytes(64);
  t.equal(await dp.isAttached(serial), false);
  await dp.attach(serial, dek);
  t.equal(await dp.isAttached(serial), true);
  const data = randomBytes(512);
  sim.drive(0).writeBlock(0, data);
  await dp.detach(serial);
  t.throws(() => sim.drive(0).readBlock(0), { code: 'ENOKEY' });
  await t.rejects(dp.attach(serial, randomBytes(64)), { code: 'ENOKEY' });
  await t.rejects(dp.attach('NOSUCHSERIAL', dek), { code: 'ENOENT' });
  await dp.attach(serial, dek);
  t.same(sim.drive(0).readBlock(0), data);
});

t.test('hostile frames get errors or a hang-up, never a crash', async (t) => {
  const { sim, socketPath } = await serve(t);
  const raw = (bytes: Buffer) =>
    new Promise<Buffer>((resolve) => {
      const c = connect(socketPath);
      const chunks: Buffer[] = [];
      c.on('data', (d) => chunks.push(d));
      c.on('close', () => resolve(Buffer.concat(chunks)));
      c.write(bytes, () => setTimeout(() => c.end(), 50));
    });
  const reply = async (header: object, payload?: Buffer) => {
    const out = await raw(encodeFrame(header, payload));
    return JSON.parse(out.subarray(8, 8 + out.readUInt32BE(4)).toString());
  };
  t.match(await reply({ id: 1, op: 'nope' }), { ok: false, error: /unknown op/ });
  t.match(await reply({ op: 'list' }), { ok: false, error: /'id'/ });
  t.match(await reply({ id: 2, op: 'read', drive: 99, lba: 0 }), { ok: false, code: 'EINVAL' });
  t.match(await reply({ id: 3, op: 'read', drive: 0, lba: -1 }), { ok: false, code: 'EINVAL' });
  t.match(await reply({ id: 4, op: 'write', drive: 0, lba: 0 }, Buffer.alloc(3)), {
    ok: false,
    code: 'EINVAL',
  });
  t.match(await reply({ id: 5, op: 'inject', drive: 0, fault: 'fire' }), { ok: false });
  t.match(await reply({ id: 6, op: 'ioctl', fd: 'x', request: 1 }), { ok: false });
  t.equal((await raw(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2]))).length, 0, 'hung up');
  t.equal((await raw(Buffer.from('\0\0\0\x08\0\0\0\x04nope'))).length, 0, 'bad JSON: hung up');
  t.equal(sim.list().length, 2, 'still serving');
  const { io } = await transport(t, socketPath);
  t.equal(await statusFlags(io), 0x03);
});

t.test('debug logs name ioctls and results, never PINs or DEKs', async (t) => {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });
  const { sim, socketPath } = await serve(t, logger);
  const { io } = await transport(t, socketPath);
  const pin = randomBytes(32);
  await provision(io, pin);
  await lockUnlock(io, randomBytes(32));
  await save(io, pin);
  const dek = randomBytes(64);
  const dp = new SimDataPath(socketPath);
  t.teardown(() => dp.close());
  await dp.attach(sim.drive(0).rec.serial, dek);
  await t.rejects(dp.attach(sim.drive(0).rec.serial, randomBytes(64)));
  const log = lines.join('');
  t.match(log, /"ioctl":"IOC_OPAL_LOCK_UNLOCK","rc":1/);
  for (const secret of [pin, dek])
    for (const text of [secret.toString('hex'), secret.toString('base64').slice(0, 24)])
      t.equal(log.toLowerCase().indexOf(text.toLowerCase()), -1);
});
