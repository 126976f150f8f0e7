// Software encryption at rest for the daemon: the DataPath of the drive backend (sim:
// ekmd-sim's DEK layer; ioctl: none yet, every attach a typed "unsupported"), the
// service, and its API methods. open() settles an interrupted rekey from the store before
// the async results of a dead process are failed, so GetAsyncResult tells whether the
// rekey finished or was rolled back.
import type { NodeScope } from '../cluster/drives/node-scope';
import type { Logger } from 'pino';
import type { ApiMethod } from '../api';
import { searMethods, withSearDriveStatus } from '../api/methods/sear-methods';
import { AsyncResultService } from '../cluster/async-results/async-results';
import type { FaultService } from '../cluster/faults';
import type { Sealer } from '../cluster/sealer';
import type { MasterJob } from '../cluster/nodes/master-jobs';
import { SearService } from '../cluster/sear/sear-service';
import { DataPathUnsupportedError, type DataPath } from '../opal/datapath';
import type { DriveInventory } from '../opal/inventory';
import { SimDataPath } from '../opal/sim-socket/datapath';
import type { Store } from '../store/store';
import type { Config } from './config';
import { recordingSink } from '../metrics/recording';

export interface Sear {
  service: SearService;
  /** For startApiServer's `methods`. */
  methods: ApiMethod[];
  /** The drive methods (ListDrives) with each drive's DEK state. */
  decorate(methods: ApiMethod[]): ApiMethod[];
  /** Follows the cluster and drives; attaches the DEKs in the background. */
  start(): void;
  /** The cluster master's part: rekeys and key destruction (NodeService.whileMaster). */
  masterJob: MasterJob;
  close(): Promise<void>;
}

/** The ioctl backend has no DEK layer until dm-crypt support exists. */
export class UnsupportedDataPath implements DataPath {
  constructor(private readonly backend: string) {}
  attach(): Promise<void> {
    return Promise.reject(new DataPathUnsupportedError(this.backend));
  }
  detach(): Promise<void> {
    return Promise.reject(new DataPathUnsupportedError(this.backend));
  }
  isAttached(): Promise<boolean> {
    return Promise.reject(new DataPathUnsupportedError(this.backend));
  }
}

export async function openSear(
  config: Pick<Config, 'drives' | 'kmip'> & Partial<Pick<Config, 'unlock'>>,
  deps: {
    store: Store;
    sealer: Sealer;
    faults?: FaultService;
    logger?: Logger;
    /** Plug and relock events (the drive service's inventory). */
    inventory?: DriveInventory;
    /** Which drive records are this node's; default: a single node's. */
    scope?: NodeScope;
    /** Instead of the backend's own (tests: a backend without a DEK layer). */
    dataPath?: DataPath;
    /** Rekeys run by the cluster master (masterJob), whichever node they were asked of. */
    rekeyOnMaster?: boolean;
  },
): Promise<Sear> {
  const dataPath =
    deps.dataPath ??
    (config.drives.backend === 'sim'
      ? new SimDataPath(config.drives.sim!.socket)
      : new UnsupportedDataPath(config.drives.backend));
  const service = new SearService({
    store: deps.store,
    sealer: deps.sealer,
    dataPath,
    asyncResults: new AsyncResultService(deps.store, deps.scope),
    kmip: {
      connectTimeoutMs: config.kmip.connectTimeoutMs,
      requestTimeoutMs: config.kmip.requestTimeoutMs,
      ...(config.kmip.version ? { version: config.kmip.version } : {}),
    },
    ...(deps.faults ? { faults: deps.faults } : {}),
    ...(deps.inventory ? { inventory: deps.inventory } : {}),
    ...(deps.scope ? { scope: deps.scope } : {}),
    ...(config.unlock ? { retryMaxDelayMs: config.unlock.retry.maxDelayMs } : {}),
    metrics: recordingSink,
    ...(deps.rekeyOnMaster ? { rekeyOnMaster: true } : {}),
    ...(deps.logger ? { logger: deps.logger.child({ component: 'sear' }) } : {}),
  });
  await service.recover();
  return {
    service,
    methods: searMethods(service),
    decorate: (methods) => withSearDriveStatus(methods, service),
    start: () => service.start(),
    masterJob: (fence) => service.masterJob(fence),
    async close() {
      await service.close();
      if (dataPath instanceof SimDataPath) await dataPath.close();
    },
  };
}
