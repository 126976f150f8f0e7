// The real transport on /dev/null and a regular temp file: every sed-opal ioctl comes back
// as the right typed error, through both the async and the sync path, and nothing crashes.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as abi from '../../src/opal/abi';
import {
  OpalIoctlUnsupportedError,
  OpalKernelError,
  OpalNoDeviceError,
  resultError,
} from '../../src/opal/errors';
import { LibcTransport } from '../../src/opal/libc-transport';

const dir = mkdtempSync(join(tmpdir(), 'ekmd-libc-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const regular = join(dir, 'disk.img');
writeFileSync(regular, Buffer.alloc(4096));

const transport = new LibcTransport();

for (const path of ['/dev/null', regular]) {
  t.test(`every sed-opal ioctl on ${path} is ENOTTY`, async (t) => {
    const fd = await transport.open(path);
    t.teardown(() => transport.close(fd));
    for (const d of abi.OPAL_IOCTLS) {
      const buf = Buffer.alloc(d.size);
      const r = await transport.ioctl(fd, d.request, buf);
      t.same(r, { rc: -1, errno: constants.errno.ENOTTY }, `${d.name} async`);
      t.same(transport.ioctlSync(fd, d.request, buf), r, `${d.name} sync`);
      const err = resultError({ op: d.name, device: path }, r);
      t.type(err, OpalIoctlUnsupportedError, `${d.name} typed`);
      t.match(err?.message, new RegExp(`^${d.name} on .*ENOTTY`));
    }
  });
}

t.test('DISCOVERY through ioctlWithData leaves the struct without the pointer', async (t) => {
  const fd = await transport.open('/dev/null');
  t.teardown(() => transport.close(fd));
  const out = Buffer.alloc(2048);
  const buf = abi.encodeOpalDiscovery({ data: 0n, size: BigInt(out.length) });
  const r = await transport.ioctlWithData(fd, abi.IOC_OPAL_DISCOVERY.request, buf, out);
  t.equal(r.errno, constants.errno.ENOTTY);
  t.equal(abi.decodeOpalDiscovery(buf).data, 0n, 'address cleared after the call');
  await t.rejects(
    transport.ioctlWithData(fd, abi.IOC_OPAL_GET_STATUS.request, Buffer.alloc(8), out),
    /carries no data pointer/,
  );
});

t.test('bad input: clear errors, no syscall', async (t) => {
  const fd = await transport.open('/dev/null');
  t.teardown(() => transport.close(fd));
  await t.rejects(
    transport.ioctl(fd, abi.IOC_OPAL_LOCK_UNLOCK.request, Buffer.alloc(8)),
    /280-byte argument, got 8/,
  );
  await t.rejects(
    transport.ioctl(-1, abi.IOC_OPAL_GET_STATUS.request, Buffer.alloc(8)),
    RangeError,
  );
  await t.rejects(
    transport.ioctl(1.5, abi.IOC_OPAL_GET_STATUS.request, Buffer.alloc(8)),
    RangeError,
  );
  await t.rejects(transport.open('/dev/null\0/etc/shadow'), TypeError);
  await t.rejects(transport.open('relative'), TypeError);
  await t.rejects(transport.open(join(dir, 'missing')), OpalNoDeviceError);
  await t.rejects(transport.open(join(dir, 'missing')), { code: 'ENOENT', op: 'open' });
});

t.test('a closed fd gives EBADF, sync and async', async (t) => {
  const fd = await transport.open('/dev/null');
  await transport.close(fd);
  const r = await transport.ioctl(fd, abi.IOC_OPAL_GET_STATUS.request, Buffer.alloc(8));
  t.same(r, { rc: -1, errno: constants.errno.EBADF });
  t.same(transport.ioctlSync(fd, abi.IOC_OPAL_GET_STATUS.request, Buffer.alloc(8)), r);
  await t.rejects(transport.close(fd), OpalKernelError);
  await t.rejects(transport.close(fd), { code: 'EBADF' });
});

t.test('errno stays with its own call under concurrency', async (t) => {
  const fd = await transport.open('/dev/null');
  t.teardown(() => transport.close(fd));
  const bad = 987654;
  const calls = Array.from({ length: 40 }, (_, i) =>
    transport.ioctl(i % 2 ? fd : bad, abi.IOC_OPAL_GET_STATUS.request, Buffer.alloc(8)),
  );
  const results = await Promise.all(calls);
  t.ok(
    results.every((r, i) => r.errno === (i % 2 ? constants.errno.ENOTTY : constants.errno.EBADF)),
    'ENOTTY for /dev/null, EBADF for the bogus fd, every time',
  );
});

t.test('async ioctls beyond the cap wait their turn', async (t) => {
  const capped = new LibcTransport({ maxInFlight: 2 });
  const fd = await capped.open('/dev/null');
  t.teardown(() => capped.close(fd));
  const calls = Array.from({ length: 10 }, () =>
    capped.ioctl(fd, abi.IOC_OPAL_GET_STATUS.request, Buffer.alloc(8)),
  );
  t.equal(capped.queued, 8, 'two on the pool, eight queued');
  await Promise.all(calls);
  t.equal(capped.queued, 0);
});

t.test('the in-flight cap must stay below the thread pool', async (t) => {
  t.throws(() => new LibcTransport({ maxInFlight: 4 }), /below the libuv thread pool size 4/);
  t.throws(() => new LibcTransport({ maxInFlight: 0 }), RangeError);
  t.doesNotThrow(() => new LibcTransport({ maxInFlight: 3 }));
});
