// The real inventory over a sysfs tree built in a temp dir; device nodes are regular temp
// files, so no real block device is touched.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { IOC_OPAL_GET_STATUS, OpalStatusFlag } from '../../src/opal/abi';
import { BLKGETSIZE64 } from '../../src/opal/blk';
import type { InventoryEvent } from '../../src/opal/inventory';
import { LibcTransport } from '../../src/opal/libc-transport';
import { SysfsInventory } from '../../src/opal/sysfs-inventory';
import type { DriveTransport, IoctlResult } from '../../src/opal/transport';

function tree(t: { teardown(fn: () => void): void }) {
  const root = mkdtempSync(join(tmpdir(), 'ekmd-sysfs-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const sysBlock = join(root, 'sys/block');
  const devDir = join(root, 'dev');
  mkdirSync(sysBlock, { recursive: true });
  mkdirSync(devDir);
  const disk = (name: string, files: Record<string, string | Buffer>, sectors = 2048) => {
    mkdirSync(join(sysBlock, name, 'device'), { recursive: true });
    writeFileSync(join(sysBlock, name, 'size'), `${sectors}\n`);
    for (const [f, v] of Object.entries(files)) writeFileSync(join(sysBlock, name, 'device', f), v);
    writeFileSync(join(devDir, name), Buffer.alloc(0));
  };
  return { root, sysBlock, devDir, disk };
}

function vpd80(serial: string): Buffer {
  const s = Buffer.from(`  ${serial}  `);
  return Buffer.concat([Buffer.from([0, 0x80, 0, s.length]), s]);
}

/** Drive answers by path: capacity and GET_STATUS flags the test can change. */
class FakeDrives implements DriveTransport {
  flags = new Map<string, number>();
  private fds = new Map<number, string>();
  private next = 3;
  async open(path: string) {
    this.fds.set(this.next, path);
    return this.next++;
  }
  async ioctl(fd: number, request: number, buf: Buffer): Promise<IoctlResult> {
    const path = this.fds.get(fd)!;
    if (request === BLKGETSIZE64) {
      buf.writeBigUInt64LE(960197124096n);
      return { rc: 0, errno: 0 };
    }
    if (request === IOC_OPAL_GET_STATUS.request) {
      const f = this.flags.get(path);
      if (f === undefined) return { rc: -1, errno: constants.errno.EOPNOTSUPP };
      buf.writeUInt32LE(f, 0);
      return { rc: 0, errno: 0 };
    }
    return { rc: -1, errno: constants.errno.ENOTTY };
  }
  async close(fd: number) {
    this.fds.delete(fd);
  }
}

t.test('lists whole disks with serial, model, capacity; skips virtual ones', async (t) => {
  const { sysBlock, devDir, disk } = tree(t);
  disk('nvme0n1', { serial: 'S4EWNX0R123456\n', model: 'Samsung SSD 980 PRO 1TB    \n' });
  disk('sda', { vpd_pg80: vpd80('WD-WCC4N1234567'), model: 'WDC WD10EFRX' }, 4096);
  disk('sdb', { wwid: 'naa.5000c500a1b2c3d4' });
  mkdirSync(join(sysBlock, 'loop0')); // no device link: virtual
  mkdirSync(join(sysBlock, 'dm-0'));
  const inv = new SysfsInventory({ transport: new LibcTransport(), sysBlock, devDir });
  t.teardown(() => inv.close());
  const drives = await inv.list();
  t.same(
    drives.map((d) => [d.path, d.serial, d.model, d.capacityBytes, d.opal]),
    [
      [join(devDir, 'nvme0n1'), 'S4EWNX0R123456', 'Samsung SSD 980 PRO 1TB', 2048 * 512, false],
      [join(devDir, 'sda'), 'WD-WCC4N1234567', 'WDC WD10EFRX', 4096 * 512, false],
      [join(devDir, 'sdb'), 'naa.5000c500a1b2c3d4', '', 2048 * 512, false],
    ],
    'regular files answer ENOTTY: sysfs size, not Opal',
  );
});

t.test('capacity from BLKGETSIZE64 and Opal support from GET_STATUS', async (t) => {
  const { sysBlock, devDir, disk } = tree(t);
  disk('nvme0n1', { serial: 'A1' });
  disk('sda', { serial: 'B2' });
  const drives = new FakeDrives();
  drives.flags.set(join(devDir, 'nvme0n1'), OpalStatusFlag.SUPPORTED | 0x06);
  const inv = new SysfsInventory({ transport: drives, sysBlock, devDir });
  const list = await inv.list();
  t.same(
    list.map((d) => [d.serial, d.capacityBytes, d.opal]),
    [
      ['A1', 960197124096, true],
      ['B2', 960197124096, false],
    ],
  );
  await inv.close();
});

t.test('a disk whose node is missing is skipped, not fatal', async (t) => {
  const { sysBlock, devDir, disk } = tree(t);
  disk('sda', { serial: 'B2' });
  rmSync(join(devDir, 'sda'));
  const inv = new SysfsInventory({ transport: new LibcTransport(), sysBlock, devDir });
  t.same(await inv.list(), []);
  t.throws(() => new SysfsInventory({ transport: new LibcTransport(), pollMs: 0 }), RangeError);
});

t.test('watch reports added, removed and relocked by polling', async (t) => {
  const { sysBlock, devDir, disk } = tree(t);
  disk('nvme0n1', { serial: 'A1' });
  const drives = new FakeDrives();
  const nvme = join(devDir, 'nvme0n1');
  drives.flags.set(nvme, 0x07);
  const inv = new SysfsInventory({ transport: drives, sysBlock, devDir, pollMs: 20 });
  t.teardown(() => inv.close());
  // The poll timer is unref'd (it must not keep a daemon alive); this test must stay alive.
  const keepAlive = setInterval(() => {}, 1000);
  t.teardown(() => clearInterval(keepAlive));
  const events: InventoryEvent[] = [];
  let wake: (() => void) | undefined;
  const stop = inv.watch((e) => {
    events.push(e);
    wake?.();
  });
  const next = () => new Promise<void>((r) => (wake = r));
  await new Promise((r) => setTimeout(r, 50)); // baseline taken

  let got = next();
  disk('nvme1n1', { serial: 'C3' });
  await got;
  t.match(events.shift(), {
    type: 'added',
    drive: { serial: 'C3', path: join(devDir, 'nvme1n1') },
  });

  got = next();
  drives.flags.set(nvme, 0x07 | OpalStatusFlag.LOCKED);
  await got;
  t.same(events.shift(), { type: 'relocked', path: nvme, serial: 'A1' });

  got = next();
  rmSync(join(sysBlock, 'nvme1n1'), { recursive: true });
  await got;
  t.same(events.shift(), { type: 'removed', path: join(devDir, 'nvme1n1'), serial: 'C3' });

  stop();
  disk('sdc', { serial: 'D4' });
  await new Promise((r) => setTimeout(r, 80));
  t.equal(events.length, 0, 'no events after unsubscribe');
});
