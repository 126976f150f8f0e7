// Hardware encryption at rest (Element's EnableEncryptionAtRest/DisableEncryptionAtRest,
// GetEncryptionAtRestInfo), AddDrives' securing and SecureEraseDrives: the public face.
// Every piece of drive work runs in one job chain (job-chain.ts), retried while unfinished:
//   enable.ts, provision.ts  Enable, AddDrives, and resume or rollback after a crash
//   disable.ts               Disable
//   secure-erase.ts          SecureEraseDrives and the erases a crash interrupted
//   key-retirement.ts        keys no drive needs: destroyed at their server, or dropped
//   drive-locking.ts, drive-revert.ts  the Opal steps on one drive
import type { Logger } from 'pino';
import { opalDriveOpener } from '../../opal/drive';
import type { DriveTransport } from '../../opal/transport';
import type { Json, Store, StoreReader } from '../../store/store';
import type { EncryptionStates } from '../cluster-info';
import type { KmipSettings } from '../drive-keys/kmip-keys';
import type { DriveSecurer } from '../drives/drives';
import { SINGLE_NODE, type NodeScope } from '../drives/node-scope';
import { EAR_STATE_PREFIX, getEar, softwareEarEnabled } from '../ear-state';
import { ACTIVE_NODE_PREFIX } from '../nodes/node-records';
import type { FaultService } from '../faults';
import { ClusterKeyPair } from '../key-pair';
import type { Sealer } from '../sealer';
import type { DakAccess } from '../split-key/dak-access';
import { beginDisable, finishDisable } from './disable';
import type { EarDeps } from './ear-deps';
import { reportEarFaults } from './ear-faults';
import { beginEnable, finishEnable, forgetOwnershipRefusals, secureAddedDrives } from './enable';
import { JobChain } from './job-chain';
import { agentWork } from './node-progress';
import { destroyPendingKeys } from './key-retirement';
import { resumeProvisioning } from './provision';
import { eraseDrives, finishInterruptedErases } from './secure-erase';

export interface HardwareEarOptions {
  store: Store;
  sealer: Sealer;
  transport: DriveTransport;
  kmip?: KmipSettings;
  /**
   * Given on a shared store: without a key provider, new AKs are sealed under the
   * drive-access key split across the nodes (made by Enable when there are two or more).
   */
  dak?: DakAccess;
  logger?: Logger;
  /** Where drives that failed Enable or Disable are reported as cluster faults. */
  faults?: FaultService;
  /** Drives worked on at once. */
  parallel?: number;
  /** Cap of the backoff while keys or drives are out of reach. Default 30000. */
  retryMaxDelayMs?: number;
  /** Which drive records are this node's; default: a single node's. */
  scope?: NodeScope;
  /**
   * Whether this node's drive records are current (its drive service has read them as a
   * node of the cluster); its agent waits for it. Default: always.
   */
  drivesRead?: () => boolean;
}

export class HardwareEarService implements DriveSecurer {
  private readonly deps: EarDeps;
  private readonly jobs: JobChain;
  private agentQueued = false;
  private agentStarted = false;
  private unwatchState: (() => void) | undefined;
  private unwatchNodes: (() => void) | undefined;

  constructor(private readonly options: HardwareEarOptions) {
    const keyPair = new ClusterKeyPair(options.store, options.sealer, options.logger);
    this.deps = {
      store: options.store,
      sealer: options.sealer,
      keyPair,
      scope: options.scope ?? SINGLE_NODE,
      kmip: options.kmip ?? {},
      ...(options.dak ? { dak: options.dak } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      openDrive: opalDriveOpener(options.transport, options.logger),
      parallel: options.parallel ?? 8,
      work: { liveCallErases: new Set<number>(), keyDestroyDeferred: false },
    };
    this.jobs = new JobChain(
      {
        afterEachJob: () => this.reportFaults(),
        hasUnfinishedWork: () => this.hasUnfinishedWork(),
        retry: () => this.recover(),
      },
      options.retryMaxDelayMs ?? 30_000,
      options.logger,
    );
  }

  private get store(): Store {
    return this.options.store;
  }

  /** For GetClusterInfo. */
  states = (tx: StoreReader): EncryptionStates => ({
    encryptionAtRestState: getEar(tx).state,
    softwareEncryptionAtRestState: softwareEarEnabled(tx) ? 'enabled' : 'disabled',
  });

  /** GetEncryptionAtRestInfo: the state and, while keys exist, where they come from. */
  info(): { [k: string]: Json } {
    const ear = getEar(this.store);
    if (ear.state === 'disabled') return { state: ear.state };
    const authenticationKeyInfo: { [k: string]: Json } =
      ear.keyProviderID === null
        ? { keyManagementType: 'internal' }
        : { keyManagementType: 'external', keyProviderID: ear.keyProviderID };
    return { authenticationKeyInfo, state: ear.state };
  }

  /**
   * EnableEncryptionAtRest: checks, then `enabling`; every node's agent (this one's at once)
   * secures its own drives in the background (node-progress.ts).
   */
  async enable(keyProviderID?: number): Promise<void> {
    await beginEnable(this.deps, keyProviderID);
    this.runAgent();
  }

  /** DisableEncryptionAtRest: `disabling`, then every node's agent opens its own drives. */
  async disable(): Promise<void> {
    await beginDisable(this.deps);
    this.runAgent();
  }

  /**
   * At start: finish whatever a previous process left half done (idle() tells when), and
   * from then on follow the cluster-wide EAR state and this node's membership: the agent.
   */
  recover(): void {
    this.agentStarted = true;
    this.jobs.enqueue(() => finishInterruptedErases(this.deps));
    if (!this.runAgent()) {
      this.jobs.enqueue(() =>
        resumeProvisioning(this.deps).then(() => destroyPendingKeys(this.deps)),
      );
    }
    // Another node's Enable or Disable, this node added to the cluster, or a node removed
    // (the nodes left may all be done): the agent looks again.
    this.unwatchState ??= this.store.watch(EAR_STATE_PREFIX, () => this.runAgent());
    this.unwatchNodes ??= this.store.watch(ACTIVE_NODE_PREFIX, () => {
      // Only a node done with its part: one just added acts once its drives are recorded.
      const self = this.deps.scope.nodeID(this.store);
      if (self !== undefined && agentWork(this.store, self) === undefined) this.runAgent();
    });
  }

  /**
   * The drive service read this node's drives: a node added to the cluster after its start
   * (it had none of its own before) takes its part now. Before recover() it is recover's.
   */
  drivesRecorded(): void {
    if (this.agentStarted) this.runAgent();
  }

  /**
   * Queues this node's part of the transition under way, unless one is queued and not
   * started yet. Also a node done waits for the rest: a removed node may leave it the last.
   * Returns whether the state asks anything of this node.
   */
  private runAgent(): boolean {
    if (this.agentQueued) return true;
    const self = this.deps.scope.nodeID(this.store);
    // A node just added has no records yet: securing none, it would be "done" too soon.
    if (self === undefined || this.options.drivesRead?.() === false) return false;
    const { state } = getEar(this.store);
    const work = agentWork(this.store, self);
    const transition = state === 'enabling' || state === 'disabling';
    if (!work && !transition) return false;
    this.agentQueued = true;
    this.jobs.enqueue(() => {
      this.agentQueued = false;
      const now = getEar(this.store).state;
      if (now === 'enabling' || now === 'enabled') return finishEnable(this.deps);
      if (now === 'disabling') return finishDisable(this.deps);
      return Promise.resolve();
    });
    return true;
  }

  /** Resolves when the work queued so far has settled (a scheduled retry is not waited for). */
  async idle(): Promise<void> {
    await this.jobs.idle();
  }

  /** Stops retrying and waits for work in progress. */
  async close(): Promise<void> {
    this.unwatchState?.();
    this.unwatchNodes?.();
    this.unwatchState = this.unwatchNodes = undefined;
    await this.jobs.close();
  }

  /**
   * The operator's word that these drives, which refused to be taken over (owned
   * elsewhere), have been reverted since (a PSID revert, say): the refusal is forgotten
   * and, under enabled EAR, they are secured now. Nothing else retries such a drive:
   * presenting the MSID to one still owned would burn one of its tries. Returns the drives
   * released; an unknown drive ID changes nothing.
   */
  async releaseRefused(driveIDs: number[]): Promise<number[]> {
    const released = await forgetOwnershipRefusals(this.deps, driveIDs);
    this.options.logger?.info({ driveIDs: released }, 'drive refusals released by the operator');
    if (released.length) {
      this.secure(released).catch((err: unknown) => {
        this.options.logger?.warn({ err: (err as Error).message }, 'could not secure the drives');
      });
    }
    return released;
  }

  /** AddDrives under enabled EAR: the new drives are secured like the rest. */
  // In the job chain like all other work: recovery's clean-up of unregistered keys must
  // never see this provisioning's in-flight key records.
  secure(driveIDs: number[]): Promise<Map<number, string>> {
    return this.jobs.enqueueForResult(async () => {
      const ear = getEar(this.store);
      if (ear.state !== 'enabled') return new Map<number, string>();
      const notSecured = await secureAddedDrives(this.deps, driveIDs, ear.keyProviderID);
      await this.reportFaults(); // raised before AddDrives hears of the failure
      return notSecured;
    });
  }

  /**
   * SecureEraseDrives: REVERT_TPR as SID crypto-erases the drive (factory state), then its
   * AK is destroyed. Returns the IDs that could not be erased, with the reason. The drives
   * come journaled (step `erasing`); see secure-erase.ts.
   */
  erase(driveIDs: number[]): Promise<Map<number, string>> {
    // Known from the call on, so that a recovery queued meanwhile leaves these drives alone.
    for (const id of driveIDs) this.deps.work.liveCallErases.add(id);
    return this.jobs.enqueueForResult(() => eraseDrives(this.deps, driveIDs));
  }

  private async reportFaults(): Promise<void> {
    if (!this.options.faults) return;
    try {
      await reportEarFaults(this.store, this.options.faults, this.deps.scope);
    } catch (err) {
      // A fault that cannot be written must not stop the drive work.
      this.options.logger?.error({ err: (err as Error).message }, 'EAR faults not reported');
    }
  }

  /** Work a key server or drive out of reach left unfinished: the job chain retries it. */
  private hasUnfinishedWork(): boolean {
    const self = this.deps.scope.nodeID(this.store);
    const { work } = this.deps;
    return (
      // A node done with its part waits for the others' markers (its watch), not a retry.
      (self !== undefined &&
        this.options.drivesRead?.() !== false &&
        agentWork(this.store, self) !== undefined) ||
      work.keyDestroyDeferred ||
      this.deps.scope
        .drives(this.store)
        .some(
          (d) =>
            d.security === 'provisioning' ||
            (d.present && d.step === 'erasing' && !work.liveCallErases.has(d.driveID)),
        )
    );
  }
}
