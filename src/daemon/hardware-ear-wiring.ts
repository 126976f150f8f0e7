// Drives and hardware EAR for the daemon: the drive backend named by `drives.backend`
// (sim: ekmd-sim's socket; ioctl: the kernel through libc plus /sys/block), the services
// over them, and the API methods and GetClusterInfo hook startApiServer takes.
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { ApiMethod } from '../api';
import { asyncMethods } from '../api/methods/async-methods';
import { driveMethods } from '../api/methods/drive-methods';
import { earMethods } from '../api/methods/ear-methods';
import { AsyncResultService } from '../cluster/async-results/async-results';
import type { EncryptionStateSource } from '../cluster/cluster-info';
import { DriveService } from '../cluster/drives/drives';
import { HardwareEarService } from '../cluster/hardware-ear/hardware-ear';
import type { Sealer } from '../cluster/sealer';
import { OpalDrive } from '../opal/drive';
import { OpalNotSupportedError } from '../opal/errors';
import type { DriveInfo, DriveInventory, InventoryEvent } from '../opal/inventory';
import { LibcTransport } from '../opal/libc-transport';
import type { DriveTransport } from '../opal/transport';
import { SimInventory } from '../sim/client-inventory';
import { SimTransport } from '../sim/client-transport';
import type { Store } from '../store/store';
import type { Config } from './config';

export interface HardwareEar {
  /** For startApiServer's `methods`. */
  methods: ApiMethod[];
  /** For startApiServer's `encryptionStates`. */
  encryptionStates: EncryptionStateSource;
  drives: DriveService;
  ear: HardwareEarService;
  /**
   * Reads the inventory, then finishes in the background whatever a previous process left
   * half done (it may wait for a key server; the API must not).
   */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function openHardwareEar(
  config: Pick<Config, 'drives' | 'kmip'>,
  deps: { store: Store; sealer: Sealer; logger?: Logger },
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
    ...(deps.logger ? { logger: deps.logger.child({ component: 'hardware-ear' }) } : {}),
  });
  drives.setSecurer(ear);
  return {
    methods: [...driveMethods(drives), ...earMethods(ear), ...asyncMethods(asyncResults)],
    encryptionStates: ear.states,
    drives,
    ear,
    async start() {
      asyncResults.failInterrupted();
      await drives.start();
      ear.recover();
    },
    async close() {
      await drives.stop();
      await ear.idle();
      await inventory.close();
      await end();
    },
  };
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
  const transport = new LibcTransport(logger ? { logger } : {});
  return {
    transport,
    inventory: new SysBlockInventory(config.drives.ioctl!.devices, transport),
    end: async () => {},
  };
}

/**
 * The configured whole-disk nodes (a `*` may stand in the last path component), described
 * from /sys/block; Opal support from GET_STATUS. Plug events come from polling later.
 */
export class SysBlockInventory implements DriveInventory {
  constructor(
    private readonly patterns: string[],
    private readonly transport: DriveTransport,
    private readonly sysBlock = '/sys/block',
  ) {}

  async list(): Promise<DriveInfo[]> {
    const paths = [...new Set(this.patterns.flatMap(expand))].sort();
    return Promise.all(paths.map((p) => this.describe(p)));
  }

  watch(_fn: (event: InventoryEvent) => void): () => void {
    return () => {};
  }

  async close(): Promise<void> {}

  private async describe(path: string): Promise<DriveInfo> {
    const name = basename(realpathSync(path));
    const read = (...parts: string[]) => {
      try {
        return readFileSync(join(this.sysBlock, name, ...parts), 'utf8').trim();
      } catch {
        return '';
      }
    };
    let opal = true;
    try {
      await new OpalDrive(this.transport, path).status();
    } catch (err) {
      if (!(err instanceof OpalNotSupportedError)) throw err;
      opal = false;
    }
    return {
      path,
      serial: read('device', 'serial') || read('serial') || read('device', 'wwid') || name,
      model: read('device', 'model'),
      capacityBytes: Number(read('size') || '0') * 512,
      opal,
    };
  }
}

function expand(pattern: string): string[] {
  const name = basename(pattern);
  if (!name.includes('*')) return [pattern];
  const dir = dirname(pattern);
  const re = new RegExp(`^${name.split('*').map(escape).join('.*')}$`);
  return readdirSync(dir)
    .filter((n) => re.test(n))
    .map((n) => join(dir, n));
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
