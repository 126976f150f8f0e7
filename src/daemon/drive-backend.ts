// The drives backend named by `drives.backend`: sim (ekmd-sim's socket) or ioctl (the
// kernel through libc, with /sys/block for the inventory). Opened once per process: by the
// early unlock when there is a key plan, else by the hardware EAR wiring, which then takes
// it over.
import type { Logger } from 'pino';
import type { DriveInfo, DriveInventory, InventoryEvent } from '../opal/inventory';
import type { DriveTransport } from '../opal/transport';
import { SimInventory } from '../opal/sim-socket/inventory';
import { SimTransport } from '../opal/sim-socket/transport';
import type { Config } from './config';

export interface DriveBackend {
  transport: DriveTransport;
  inventory: DriveInventory;
  /** After a drive unlocked (the ioctl backend re-reads its partition table); may throw. */
  afterUnlock?: (path: string) => Promise<void>;
  end(): Promise<void>;
}

export function openDriveBackend(config: Pick<Config, 'drives'>, logger?: Logger): DriveBackend {
  if (config.drives.backend === 'sim') {
    const socket = config.drives.sim!.socket;
    const transport = new SimTransport(socket);
    return { transport, inventory: new SimInventory(socket), end: () => transport.end() };
  }
  // Loaded only for this backend (fs/promises and the libc bindings are not free at start).
  const { LibcTransport } =
    require('../opal/libc-transport') as typeof import('../opal/libc-transport');
  const { SysfsInventory } =
    require('../opal/sysfs-inventory') as typeof import('../opal/sysfs-inventory');
  const transport = new LibcTransport(logger ? { logger } : {});
  return {
    transport,
    inventory: new ConfiguredDevices(
      config.drives.ioctl!.devices,
      new SysfsInventory({ transport, ...(logger ? { logger } : {}) }),
    ),
    ...afterUnlockStep('ioctl', transport),
    end: async () => {},
  };
}

/**
 * What follows a successful unlock: on real disks (ioctl) a re-read of the partition
 * table, since the boot-time scan saw only I/O errors while they were locked. The
 * simulator has no partitions.
 */
export function afterUnlockStep(
  backend: Config['drives']['backend'],
  transport: DriveTransport,
): { afterUnlock?: (path: string) => Promise<void> } {
  if (backend !== 'ioctl') return {};
  const { rereadPartitions } = require('../opal/blk') as typeof import('../opal/blk');
  return { afterUnlock: (path) => rereadPartitions(transport, path) };
}

/** Only the drives `drives.ioctl.devices` names (paths; `*` matches within a name). */
export class ConfiguredDevices implements DriveInventory {
  private readonly patterns: RegExp[];

  constructor(
    devices: string[],
    private readonly inner: DriveInventory,
  ) {
    this.patterns = devices.map((d) => new RegExp(`^${d.split('*').map(escape).join('[^/]*')}$`));
  }

  private wanted(path: string): boolean {
    return this.patterns.some((p) => p.test(path));
  }

  async list(): Promise<DriveInfo[]> {
    return (await this.inner.list()).filter((d) => this.wanted(d.path));
  }

  async serialsAt(paths: string[]): Promise<Map<string, string>> {
    if (!this.inner.serialsAt) return new Map();
    return this.inner.serialsAt(paths.filter((p) => this.wanted(p)));
  }

  watch(fn: (event: InventoryEvent) => void): () => void {
    return this.inner.watch((e) => {
      if (this.wanted(e.type === 'added' ? e.drive.path : e.path)) fn(e);
    });
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
