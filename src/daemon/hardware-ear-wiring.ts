// Drives and hardware EAR for the daemon: the drive backend named by `drives.backend`
// (sim: ekmd-sim's socket; ioctl: the kernel through libc plus /sys/block), the services
// over them, and the API methods and GetClusterInfo hook startApiServer takes.
import type { Logger } from 'pino';
import type { ApiMethod } from '../api';
import { asyncMethods } from '../api/methods/async-methods';
import { driveMethods } from '../api/methods/drive-methods';
import { earMethods } from '../api/methods/ear-methods';
import { AsyncResultService } from '../cluster/async-results/async-results';
import type { EncryptionStateSource } from '../cluster/cluster-info';
import { BootUnlockService } from '../cluster/boot-unlock';
import { DriveService } from '../cluster/drives/drives';
import type { FaultService } from '../cluster/faults';
import { HardwareEarService } from '../cluster/hardware-ear/hardware-ear';
import type { Sealer } from '../cluster/sealer';
import type { DriveInfo, DriveInventory, InventoryEvent } from '../opal/inventory';
import type { DriveTransport } from '../opal/transport';
import { SimInventory } from '../opal/sim-socket/inventory';
import { SimTransport } from '../opal/sim-socket/transport';
import type { Store } from '../store/store';
import type { Config } from './config';
import { recordingSink } from '../metrics/recording';

export interface HardwareEar {
  /** For startApiServer's `methods`. */
  methods: ApiMethod[];
  /** For startApiServer's `encryptionStates`. */
  encryptionStates: EncryptionStateSource;
  drives: DriveService;
  ear: HardwareEarService;
  /** With a FaultService: unlocks locked drives at start and when one appears or relocks. */
  unlock: BootUnlockService | undefined;
  /**
   * Reads the inventory, then finishes in the background whatever a previous process left
   * half done (it may wait for a key server; the API must not).
   */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function openHardwareEar(
  config: Pick<Config, 'drives' | 'kmip'> & Partial<Pick<Config, 'unlock' | 'stateDir'>>,
  deps: { store: Store; sealer: Sealer; faults?: FaultService; logger?: Logger },
): HardwareEar {
  const { transport, inventory, end } = driveBackend(config, deps.logger);
  const asyncResults = new AsyncResultService(deps.store);
  const drives = new DriveService(deps.store, inventory, asyncResults, {
    ...(config.drives.roles ? { roles: config.drives.roles } : {}),
    ...(deps.logger ? { logger: deps.logger.child({ component: 'drives' }) } : {}),
  });
  const ear = new HardwareEarService({
    store: deps.store,
    sealer: deps.sealer,
    transport,
    kmip: {
      connectTimeoutMs: config.kmip.connectTimeoutMs,
      requestTimeoutMs: config.kmip.requestTimeoutMs,
      ...(config.kmip.version ? { version: config.kmip.version } : {}),
    },
    ...(deps.faults ? { faults: deps.faults } : {}),
    ...(config.unlock ? { retryMaxDelayMs: config.unlock.retry.maxDelayMs } : {}),
    ...(deps.logger ? { logger: deps.logger.child({ component: 'hardware-ear' }) } : {}),
  });
  drives.setSecurer(ear);
  const unlock =
    deps.faults &&
    new BootUnlockService({
      store: deps.store,
      sealer: deps.sealer,
      transport,
      inventory,
      faults: deps.faults,
      kmip: {
        connectTimeoutMs: config.kmip.connectTimeoutMs,
        requestTimeoutMs: config.kmip.requestTimeoutMs,
        ...(config.kmip.version ? { version: config.kmip.version } : {}),
      },
      retryMaxDelayMs: config.unlock?.retry.maxDelayMs ?? 30_000,
      ...(config.unlock
        ? {
            metadataGraceSec: config.unlock.metadataGraceSec,
            keyCheckIntervalSec: config.unlock.keyCheckIntervalSec,
          }
        : {}),
      ...(config.stateDir ? { keyPlanDir: config.stateDir } : {}),
      metrics: recordingSink,
      ...afterUnlockStep(config.drives.backend, transport),
      ...(deps.logger ? { logger: deps.logger.child({ component: 'boot-unlock' }) } : {}),
    });
  const unwatchAdded =
    unlock &&
    drives.onAdded(() => {
      unlock
        .reconcile()
        .catch((err: unknown) =>
          deps.logger?.error({ err: (err as Error).message }, 'metadata drive faults not reported'),
        );
    });
  return {
    methods: [...driveMethods(drives, unlock), ...earMethods(ear), ...asyncMethods(asyncResults)],
    encryptionStates: ear.states,
    drives,
    ear,
    unlock,
    async start() {
      await asyncResults.failInterrupted();
      await drives.start();
      ear.recover();
      unlock?.start();
    },
    async close() {
      unwatchAdded?.();
      await unlock?.close();
      await drives.stop();
      await ear.close();
      await inventory.close();
      await end();
    },
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

function driveBackend(
  config: Pick<Config, 'drives'>,
  logger?: Logger,
): { transport: DriveTransport; inventory: DriveInventory; end(): Promise<void> } {
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
    end: async () => {},
  };
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
