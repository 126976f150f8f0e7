// N simulated drives in one state directory: the in-process API that unit tests use and
// that the socket server exposes. Power cycles, suspend/resume and hot-plug are events of
// the whole enclosure; inventory listeners hear plug/unplug/relock like udev would say it.
import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import type { DriveInfo, InventoryEvent } from '../opal/inventory';
import type { IoctlResult } from '../opal/transport';
import { BLOCK_SIZE } from './crypto/xts';
import type { DriveMode } from './drive/record';
import { SimDrive, type DriveStatus, type Fault } from './drive/sim-drive';
import { loadOrCreateRuntimeKey } from './persistence/runtime-key';

export interface SimulatorOptions {
  stateDir: string;
  /** Number of drives, numbered from 0; drives already in the state dir keep their state. */
  drives: number;
  /** Capacity of a new drive. */
  sizeMiB?: number;
  /** Mode of a new drive: a SED (opal) or not (plain). */
  mode?: DriveMode;
  /** Callers hold CAP_SYS_ADMIN; false makes every Opal ioctl answer EACCES. */
  privileged?: boolean;
  logger?: Logger;
}

// Large enough for the 1,000-drive unlock and enable benchmarks; each drive holds one fd.
export const MAX_DRIVES = 1024;
export const MAX_SIZE_MIB = 1 << 20;

export class Simulator {
  readonly drives: SimDrive[] = [];
  readonly privileged: boolean;
  private readonly listeners = new Set<(e: InventoryEvent) => void>();
  private readonly runtimeKey: Buffer;

  constructor(opts: SimulatorOptions) {
    const { drives, sizeMiB = 64, mode = 'opal' } = opts;
    if (!Number.isInteger(drives) || drives < 1 || drives > MAX_DRIVES)
      throw new RangeError(`drives must be 1..${MAX_DRIVES}, got ${drives}`);
    if (!Number.isInteger(sizeMiB) || sizeMiB < 1 || sizeMiB > MAX_SIZE_MIB)
      throw new RangeError(`size must be 1..${MAX_SIZE_MIB} MiB, got ${sizeMiB}`);
    this.privileged = opts.privileged ?? true;
    mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
    this.runtimeKey = loadOrCreateRuntimeKey(opts.stateDir);
    const blocks = (sizeMiB * 1024 * 1024) / BLOCK_SIZE;
    for (let i = 0; i < drives; i++)
      this.drives.push(
        new SimDrive(opts.stateDir, i, this.runtimeKey, { blocks, mode }, opts.logger),
      );
  }

  /** Drive N, or a RangeError naming the valid numbers. */
  drive(n: number): SimDrive {
    const d = Number.isInteger(n) ? this.drives[n] : undefined;
    if (!d) throw new RangeError(`no drive ${n} (drives are 0..${this.drives.length - 1})`);
    return d;
  }

  /** One ioctl on drive N; `data` stands for the buffer a struct's user pointer names. */
  ioctl(n: number, request: number, buf: Buffer, data?: Buffer): IoctlResult {
    return this.drive(n).ioctl(request >>> 0, buf, this.privileged, data);
  }

  list(): DriveInfo[] {
    return this.drives.filter((d) => d.rec.plugged).map((d) => d.info());
  }

  status(): { drives: DriveStatus[] } {
    return { drives: this.drives.map((d) => d.status()) };
  }

  powerCycle(n?: number): void {
    this.each(n, (d) => d.rec.plugged && this.watchRelock(d, () => d.powerCycle()));
  }

  suspendResume(n?: number): void {
    this.each(n, (d) => d.rec.plugged && this.watchRelock(d, () => d.suspendResume()));
  }

  unplug(n?: number): void {
    this.each(n, (d) => {
      if (!d.rec.plugged) return;
      d.unplug();
      this.emit({ type: 'removed', path: d.path, serial: d.rec.serial });
    });
  }

  /** Hot-plug: the drive comes back powered up (locked per LockOnReset). */
  plug(n?: number): void {
    this.each(n, (d) => {
      if (d.rec.plugged) return;
      d.plug();
      this.emit({ type: 'added', drive: d.info() });
    });
  }

  inject(n: number, fault: Fault, slowMs?: number): void {
    this.drive(n).inject(fault, slowMs);
  }

  onInventory(fn: (e: InventoryEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  close(): void {
    for (const d of this.drives) d.close();
    this.listeners.clear();
    this.runtimeKey.fill(0);
  }

  private each(n: number | undefined, fn: (d: SimDrive) => void): void {
    if (n === undefined) this.drives.forEach(fn);
    else fn(this.drive(n));
  }

  private watchRelock(d: SimDrive, event: () => void): void {
    const before = d.opal.anyLocked();
    event();
    if (!before && d.opal.anyLocked())
      this.emit({ type: 'relocked', path: d.path, serial: d.rec.serial });
  }

  private emit(e: InventoryEvent): void {
    for (const fn of this.listeners) fn(e);
  }
}
