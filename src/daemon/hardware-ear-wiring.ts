// Drives and hardware EAR for the daemon: the drive backend named by `drives.backend`
// (drive-backend.ts; the early unlock's when it opened one), the services over it, and the
// API methods and GetClusterInfo hook startApiServer takes.
import type { Logger } from 'pino';
import type { ApiMethod } from '../api';
import { asyncMethods } from '../api/methods/async-methods';
import { driveMethods } from '../api/methods/drive-methods';
import { earMethods } from '../api/methods/ear-methods';
import { AsyncResultService } from '../cluster/async-results/async-results';
import type { EncryptionStateSource } from '../cluster/cluster-info';
import { BootUnlockService } from '../cluster/boot-unlock';
import { REKEY_RESULT_TYPE } from '../cluster/sear/rekey';
import { intentPending } from '../cluster/drives/drive-intents';
import { DriveService } from '../cluster/drives/drives';
import type { NodeScope } from '../cluster/drives/node-scope';
import type { FaultService } from '../cluster/faults';
import { HardwareEarService } from '../cluster/hardware-ear/hardware-ear';
import type { Sealer } from '../cluster/sealer';
import type { DakAccess } from '../cluster/split-key/dak-access';
import type { Store } from '../store/store';
import type { Config } from './config';
import { openDriveBackend, type DriveBackend } from './drive-backend';
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
  deps: {
    store: Store;
    sealer: Sealer;
    faults?: FaultService;
    logger?: Logger;
    /** Opened already (by the early unlock); taken over, ended by close(). */
    backend?: DriveBackend;
    /** Which drive records are this node's; default: a single node's (all node 1's). */
    scope?: NodeScope;
    /** On a shared store: internal AKs go under the drive-access key split across the nodes. */
    dak?: DakAccess;
  },
): HardwareEar {
  const backend = deps.backend ?? openDriveBackend(config, deps.logger);
  const { transport, inventory, end } = backend;
  const asyncResults = new AsyncResultService(deps.store, deps.scope);
  const drives = new DriveService(deps.store, inventory, asyncResults, {
    ...(config.drives.roles ? { roles: config.drives.roles } : {}),
    ...(deps.scope ? { scope: deps.scope } : {}),
    ...(deps.logger ? { logger: deps.logger.child({ component: 'drives' }) } : {}),
  });
  const ear = new HardwareEarService({
    store: deps.store,
    sealer: deps.sealer,
    ...(deps.dak ? { dak: deps.dak } : {}),
    transport,
    kmip: {
      connectTimeoutMs: config.kmip.connectTimeoutMs,
      requestTimeoutMs: config.kmip.requestTimeoutMs,
      ...(config.kmip.version ? { version: config.kmip.version } : {}),
    },
    ...(deps.faults ? { faults: deps.faults } : {}),
    ...(config.unlock ? { retryMaxDelayMs: config.unlock.retry.maxDelayMs } : {}),
    ...(deps.scope ? { scope: deps.scope } : {}),
    drivesRead: () => drives.drivesRead,
    ...(deps.logger ? { logger: deps.logger.child({ component: 'hardware-ear' }) } : {}),
  });
  drives.setSecurer(ear);
  const unlock =
    deps.faults &&
    new BootUnlockService({
      store: deps.store,
      sealer: deps.sealer,
      ...(deps.dak ? { dak: deps.dak } : {}),
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
      ...(deps.scope ? { scope: deps.scope } : {}),
      ...(backend.afterUnlock ? { afterUnlock: backend.afterUnlock } : {}),
      ...(deps.logger ? { logger: deps.logger.child({ component: 'boot-unlock' }) } : {}),
    });
  if (unlock) drives.setUnlocker(unlock);
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
    methods: [
      ...driveMethods(drives, unlock !== undefined),
      ...earMethods(ear),
      ...asyncMethods(asyncResults),
    ],
    encryptionStates: ear.states,
    drives,
    ear,
    unlock,
    async start() {
      // A rekey's result is settled by the cluster master from the rekey's journal; a
      // request another node recorded for this one and not taken yet is carried out now.
      await asyncResults.failInterrupted([REKEY_RESULT_TYPE], intentPending);
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
