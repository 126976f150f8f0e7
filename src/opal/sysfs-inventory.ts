// The real DriveInventory: whole disks from /sys/block, with serial and model from sysfs,
// capacity from BLKGETSIZE64, and Opal support from GET_STATUS. Plug, unplug and relock
// are found by polling: no udevd is assumed on a storage node's boot path.
import { readFile, readdir, access } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { IOC_OPAL_GET_STATUS, OpalStatusFlag, decodeOpalStatus, encodeOpalStatus } from './abi';
import { BLKGETSIZE64 } from './blk';
import type { DriveInfo, DriveInventory, InventoryEvent } from './inventory';
import type { DriveTransport } from './transport';

export interface SysfsInventoryOptions {
  transport: DriveTransport;
  /** Where whole disks are listed; default /sys/block. */
  sysBlock?: string;
  /** Where their nodes are; default /dev. */
  devDir?: string;
  /** Poll period for watch(); default 5 s. */
  pollMs?: number;
  logger?: Logger;
}

interface Seen {
  info: DriveInfo;
  locked: boolean;
}

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    const s = (await readFile(path, 'latin1')).replace(/\0/g, '').trim();
    return s === '' ? undefined : s;
  } catch {
    return undefined;
  }
}

/** SCSI/SATA: VPD page 0x80 is a 4-byte header, then the unit serial number. */
async function readVpdSerial(path: string): Promise<string | undefined> {
  try {
    const page = await readFile(path);
    if (page.length < 4 || page[1] !== 0x80) return undefined;
    const s = page
      .subarray(4, 4 + page.readUInt16BE(2))
      .toString('latin1')
      .trim();
    return s === '' ? undefined : s;
  } catch {
    return undefined;
  }
}

/** A whole disk's serial: NVMe's serial, SCSI/SATA's VPD page 0x80, its WWID, or its name. */
async function serialOf(name: string, dir: string): Promise<string> {
  return (
    (await readTrimmed(join(dir, 'device/serial'))) ??
    (await readVpdSerial(join(dir, 'device/vpd_pg80'))) ??
    (await readTrimmed(join(dir, 'device/wwid'))) ??
    name
  );
}

export class SysfsInventory implements DriveInventory {
  private readonly transport: DriveTransport;
  private readonly sysBlock: string;
  private readonly devDir: string;
  private readonly pollMs: number;
  private readonly log: Logger | undefined;
  private readonly listeners = new Set<(e: InventoryEvent) => void>();
  private seen = new Map<string, Seen>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(opts: SysfsInventoryOptions) {
    this.transport = opts.transport;
    this.sysBlock = opts.sysBlock ?? '/sys/block';
    this.devDir = opts.devDir ?? '/dev';
    this.pollMs = opts.pollMs ?? 5000;
    if (!Number.isInteger(this.pollMs) || this.pollMs < 10)
      throw new RangeError(`pollMs must be an integer >= 10, got ${this.pollMs}`);
    this.log = opts.logger;
  }

  async list(): Promise<DriveInfo[]> {
    return (await this.scan()).map((s) => s.info);
  }

  /** Read from sysfs as list() reads them; a path outside devDir, or without a disk, has none. */
  async serialsAt(paths: string[]): Promise<Map<string, string>> {
    const serials = new Map<string, string>();
    await Promise.all(
      paths.map(async (path) => {
        if (dirname(path) !== this.devDir) return;
        const name = basename(path);
        const dir = join(this.sysBlock, name);
        try {
          await access(join(dir, 'device'));
        } catch {
          return;
        }
        serials.set(path, await serialOf(name, dir));
      }),
    );
    return serials;
  }

  watch(fn: (event: InventoryEvent) => void): () => void {
    this.listeners.add(fn);
    if (!this.timer && !this.closed) this.schedule(true);
    return () => {
      this.listeners.delete(fn);
      if (this.listeners.size === 0) this.stop();
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    this.stop();
  }

  private stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The first poll records the baseline; later ones report differences. */
  private schedule(baseline: boolean): void {
    this.timer = setTimeout(() => void this.poll(baseline), baseline ? 0 : this.pollMs);
    this.timer.unref();
  }

  private async poll(baseline: boolean): Promise<void> {
    try {
      const now = new Map((await this.scan()).map((s) => [s.info.path, s]));
      if (!baseline) this.diff(this.seen, now);
      this.seen = now;
    } catch (err) {
      this.log?.warn({ err }, 'drive inventory poll failed');
    }
    if (this.listeners.size > 0 && !this.closed) this.schedule(false);
  }

  private diff(before: Map<string, Seen>, after: Map<string, Seen>): void {
    for (const [path, old] of before) {
      const cur = after.get(path);
      if (!cur || cur.info.serial !== old.info.serial)
        this.emit({ type: 'removed', path, serial: old.info.serial });
    }
    for (const [path, cur] of after) {
      const old = before.get(path);
      if (!old || old.info.serial !== cur.info.serial)
        this.emit({ type: 'added', drive: cur.info });
      else if (!old.locked && cur.locked)
        this.emit({ type: 'relocked', path, serial: cur.info.serial });
    }
  }

  private emit(event: InventoryEvent): void {
    this.log?.info({ event: event.type }, 'drive inventory change');
    for (const fn of this.listeners) fn(event);
  }

  /** Whole disks backed by a device: loop, ram, zram, dm and md have no `device` link. */
  private async scan(): Promise<Seen[]> {
    const names = (await readdir(this.sysBlock)).sort();
    const out: Seen[] = [];
    for (const name of names) {
      const dir = join(this.sysBlock, name);
      try {
        await access(join(dir, 'device'));
      } catch {
        continue;
      }
      const seen = await this.describe(name, dir);
      if (seen) out.push(seen);
    }
    return out;
  }

  private async describe(name: string, dir: string): Promise<Seen | undefined> {
    const path = join(this.devDir, name);
    const serial = await serialOf(name, dir);
    const model = (await readTrimmed(join(dir, 'device/model'))) ?? '';
    const sectors = Number(await readTrimmed(join(dir, 'size')));
    let fd: number;
    try {
      fd = await this.transport.open(path);
    } catch (err) {
      // Gone between readdir and open, or no node for it: not a drive we can use.
      this.log?.debug({ device: path, err }, 'cannot open listed disk');
      return undefined;
    }
    try {
      const size = Buffer.alloc(8);
      const r = await this.transport.ioctl(fd, BLKGETSIZE64, size);
      const capacityBytes =
        r.rc === 0 ? Number(size.readBigUInt64LE(0)) : Number.isFinite(sectors) ? sectors * 512 : 0;
      const status = encodeOpalStatus({ flags: 0 });
      const s = await this.transport.ioctl(fd, IOC_OPAL_GET_STATUS.request, status);
      const flags = s.rc === 0 ? decodeOpalStatus(status).flags : 0;
      return {
        info: {
          path,
          serial,
          model,
          capacityBytes,
          opal: (flags & OpalStatusFlag.SUPPORTED) !== 0,
        },
        locked: (flags & OpalStatusFlag.LOCKED) !== 0,
      };
    } finally {
      await this.transport.close(fd);
    }
  }
}
