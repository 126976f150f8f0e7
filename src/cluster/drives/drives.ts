// Drives (Element's ListDrives/AddDrives/RemoveDrives/SecureEraseDrives): what the
// DriveInventory reports, kept as records with Element's states. A drive found for the
// first time is `available`; AddDrives makes it `active` (after hardware EAR, when
// enabled, has secured it); RemoveDrives takes an active drive back to `available`
// through `removing`; SecureEraseDrives crypto-erases available drives (`erasing`).
// Nodes sharing a store each record and work on their own drives (node-scope.ts); ListDrives
// lists every node's. A drive method given another node's drives records them as that
// node's intent (drive-requests.ts, drive-intents.ts), which its drive service takes and
// carries out through the same steps as a call of its own API (drive-calls.ts).
import type { Logger } from 'pino';
import type { DriveInfo, DriveInventory, InventoryEvent } from '../../opal/inventory';
import { MAX_TX_WRITES, type Store, type StoreTx } from '../../store/store';
import { ACTIVE_NODE_PREFIX } from '../nodes/node-records';
import type { AsyncResultService } from '../async-results/async-results';
import { writeInChunks } from '../store-chunks';
import {
  driveNodeID,
  driveView,
  getDrive,
  listDriveRecords,
  nextDriveID,
  putDrive,
  type DriveRecord,
} from './drive-records';
import { driveCalls, type DriveRole, type DriveSecurer, type DriveUnlocker } from './drive-calls';
import { INTENT_PREFIX, type AddDriveParam } from './drive-intents';
import { DriveRequests } from './drive-requests';
import { nodeInCluster, SINGLE_NODE, type NodeScope } from './node-scope';

export type { AddDriveParam, DriveRole, DriveSecurer, DriveUnlocker };

export interface DriveServiceOptions {
  /** Serial or slot number → role; absent: slot 0 is the metadata (volume) drive. */
  roles?: Record<string, DriveRole>;
  /** Which records are this node's; default: a single node's (all are node 1's). */
  scope?: NodeScope;
  logger?: Logger;
}

export class DriveService {
  private securer: DriveSecurer | undefined;
  private unlocker: DriveUnlocker | undefined;
  private readonly requests: DriveRequests;
  private unwatch: (() => void) | undefined;
  /** While this node is not in the store's cluster: waits for it to be added. */
  private unwatchNodes: (() => void) | undefined;
  /** Requests of other nodes' APIs for this node's drives (drive-intents.ts). */
  private unwatchIntents: (() => void) | undefined;
  private readonly jobs = new Set<Promise<void>>();
  private readonly addedListeners = new Set<(driveIDs: number[]) => void>();

  constructor(
    private readonly store: Store,
    readonly inventory: DriveInventory,
    asyncResults: AsyncResultService,
    private readonly options: DriveServiceOptions = {},
  ) {
    const calls = driveCalls({
      store,
      asyncResults,
      securer: () => this.securer,
      unlocker: () => this.unlocker,
      ...(options.roles ? { roles: options.roles } : {}),
      added: (ids) => this.notifyAdded(ids),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    this.requests = new DriveRequests({
      store,
      scope: this.scope,
      asyncResults,
      calls,
      track: (job) => this.track(job),
      ...(options.logger ? { logger: options.logger } : {}),
    });
  }

  private get scope(): NodeScope {
    return this.options.scope ?? SINGLE_NODE;
  }

  /** Hardware EAR registers itself so that drives added under EAR are secured first. */
  setSecurer(securer: DriveSecurer): void {
    this.securer = securer;
  }

  /** Boot unlock registers itself for RetryDriveUnlock. */
  setUnlocker(unlocker: DriveUnlocker): void {
    this.unlocker = unlocker;
  }

  /** Called once AddDrives has made drives active (boot unlock resolves its faults then). */
  onAdded(fn: (driveIDs: number[]) => void): () => void {
    this.addedListeners.add(fn);
    return () => this.addedListeners.delete(fn);
  }

  /** Whether the first start() put back drives a previous process left mid-job. */
  private interruptedSettled = false;
  private read = false;

  /**
   * Whether this node's drives have been read into its records since it is a node of the
   * cluster: until then its records do not say which drives it has.
   */
  get drivesRead(): boolean {
    return this.read;
  }

  /** Reads the inventory into records and follows plug/unplug from then on. */
  async start(): Promise<void> {
    this.unwatch?.(); // start() may be retried after the inventory was unreachable
    if (this.scope.nodeID(this.store) === undefined) {
      this.awaitMembership();
      return;
    }
    this.unwatch = this.inventory.watch((e) => this.onEvent(e));
    const drives = await this.inventory.list();
    // Each drive's record stands on its own: found drives are recorded in chunks (a
    // transaction writes at most MAX_TX_WRITES keys), then the gone and interrupted ones.
    const perTx = MAX_TX_WRITES - 1; // each drive's record, plus the next drive ID
    const recorded = new Set(listDriveRecords(this.store).map((d) => d.serial));
    for (let first = 0; first < drives.length; first += perTx) {
      await this.store.transaction((tx) => {
        // One read of the records per chunk: a lookup per drive would be quadratic.
        const self = this.scope.nodeID(tx);
        if (self === undefined) return; // removed meanwhile: its drives are no longer its own
        const known = bySerial(listDriveRecords(tx));
        drives.slice(first, first + perTx).forEach((d, i) => {
          this.record(tx, self, d, first + i, known.get(d.serial));
        });
      });
    }
    this.logFound(recorded);
    const seen = new Set(drives.map((d) => d.serial));
    const gone = this.scope.drives(this.store).filter((d) => !seen.has(d.serial) && d.present);
    await writeInChunks(this.store, gone, 1, (tx, d) => this.markGone(tx, getDrive(tx, d.driveID)));
    if (!this.interruptedSettled) {
      const interrupted = this.scope.drives(this.store).filter(wasInterrupted);
      await writeInChunks(this.store, interrupted, 1, (tx, d) =>
        settleInterrupted(tx, getDrive(tx, d.driveID)),
      );
    }
    this.interruptedSettled = true;
    // Intents recorded while this node was down are taken now: their results are still
    // running (asyncResults.failInterrupted leaves a result whose intent waits).
    this.unwatchIntents ??= this.store.watch(INTENT_PREFIX, (c) => {
      if (c.type === 'put') this.requests.takeIntents();
    });
    this.requests.takeIntents();
    this.read = true;
    this.securer?.drivesRecorded?.();
  }

  /**
   * A node the store's cluster does not list (yet) records no drive: another node's records
   * could carry the same serials. Its drives are read once AddNodes has made it a node.
   */
  private awaitMembership(): void {
    this.options.logger?.info('this node is not in the cluster yet: its drives wait for AddNodes');
    if (this.unwatchNodes) return;
    this.unwatchNodes = this.store.watch(ACTIVE_NODE_PREFIX, () => {
      if (this.scope.nodeID(this.store) === undefined) return;
      this.unwatchNodes?.();
      this.unwatchNodes = undefined;
      this.start().catch((err: unknown) =>
        this.options.logger?.error({ err }, 'drives not read after this node was added'),
      );
    });
  }

  /** Waits for running AddDrives/RemoveDrives jobs (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.jobs.size) await Promise.allSettled([...this.jobs]);
  }

  async stop(): Promise<void> {
    this.unwatch?.();
    this.unwatchNodes?.();
    this.unwatchIntents?.();
    this.unwatchIntents = undefined;
    await this.idle();
  }

  /** ListDrives: the drives of every node of the cluster (not those of a removed node). */
  list(): ReturnType<typeof driveView>[] {
    const nodes = new Map<number, boolean>();
    const inCluster = (id: number): boolean => {
      if (!nodes.has(id)) nodes.set(id, nodeInCluster(this.store, id));
      return nodes.get(id)!;
    };
    return listDriveRecords(this.store)
      .filter((d) => (d.present || d.status === 'failed') && inCluster(driveNodeID(d)))
      .map(driveView);
  }

  /** This node's drive records. */
  records(): DriveRecord[] {
    return this.scope.drives(this.store);
  }

  /** AddDrives: checks every drive first; nothing changes unless all can be added. */
  async add(params: AddDriveParam[]): Promise<number> {
    const driveIDs = params.map((p) => p.driveID);
    return this.requests.request({ kind: 'addDrives', driveIDs, drives: params });
  }

  /** RemoveDrives: active drives go back to available, failed ones out of use. */
  async remove(driveIDs: number[]): Promise<number> {
    return this.requests.request({ kind: 'removeDrives', driveIDs });
  }

  /** SecureEraseDrives: available drives only; nothing changes unless all can be erased. */
  async secureErase(driveIDs: number[]): Promise<number> {
    return this.requests.request({ kind: 'secureErase', driveIDs });
  }

  /**
   * RetryDriveUnlock: this node's drives (all of them when none are named) the direct way,
   * answered with the drives whose guard was released; another node's as its intent,
   * answered with the async handle.
   */
  async retryUnlock(
    driveIDs?: number[],
  ): Promise<{ released: number[] } | { asyncHandle: number }> {
    const unlocker = this.unlocker;
    if (!unlocker) throw new Error('no unlock service');
    if (driveIDs === undefined || this.ownersOf(driveIDs).every((n) => n === this.self())) {
      return { released: await unlocker.releaseGuards(driveIDs) };
    }
    return { asyncHandle: await this.requests.request({ kind: 'retryUnlock', driveIDs }) };
  }

  private self(): number | undefined {
    return this.scope.nodeID(this.store);
  }

  private ownersOf(driveIDs: number[]): number[] {
    return driveIDs.map((id) => driveNodeID(getDrive(this.store, id)));
  }

  private notifyAdded(added: number[]): void {
    for (const fn of this.addedListeners) {
      try {
        fn(added);
      } catch (err) {
        this.options.logger?.error({ err }, 'drives-added listener failed');
      }
    }
  }

  private track(job: Promise<void>): void {
    const tracked = job
      .catch((err) => this.options.logger?.error({ err }, 'drive job failed'))
      .finally(() => this.jobs.delete(tracked));
    this.jobs.add(tracked);
  }

  private onEvent(e: InventoryEvent): void {
    const recorded = new Set(listDriveRecords(this.store).map((d) => d.serial));
    this.store
      .transaction((tx) => {
        const self = this.scope.nodeID(tx);
        if (self === undefined) return;
        const known = listDriveRecords(tx);
        if (e.type === 'added') {
          const existing = known.find((d) => d.serial === e.drive.serial);
          const own = known.filter((d) => driveNodeID(d) === self && d.present);
          this.record(tx, self, e.drive, existing?.slot ?? own.length, existing);
        } else if (e.type === 'removed') {
          const d = known.find(
            (r) => r.serial === e.serial && r.present && driveNodeID(r) === self,
          );
          if (d) this.markGone(tx, d);
        }
      })
      .then(
        () => this.logFound(recorded),
        (err) => this.options.logger?.error({ err, event: e.type }, 'inventory event not recorded'),
      );
  }

  /** Logs the drives recorded since `recorded` (the serials known before). */
  private logFound(recorded: Set<string>): void {
    for (const d of listDriveRecords(this.store)) {
      if (!recorded.has(d.serial))
        this.options.logger?.info({ driveID: d.driveID, slot: d.slot }, 'drive found');
    }
  }

  /**
   * A drive this node (`self`) sees, into its record. A serial is the drive's identity: a
   * record of another node is taken over only when that node does not see the drive (it
   * moved here) or is no longer in the cluster (removed); while that node sees it too, the
   * record is left alone and the conflict logged (two drives reporting one serial, or the
   * other node not yet past its unplug).
   */
  private record(
    tx: StoreTx,
    self: number,
    info: DriveInfo,
    slot: number,
    existing: DriveRecord | undefined,
  ): void {
    const owner = existing && driveNodeID(existing);
    if (existing && owner !== self) {
      if (existing.present && nodeInCluster(tx, owner!)) {
        this.options.logger?.warn(
          { driveID: existing.driveID, nodeID: owner, path: info.path },
          'drive serial already recorded as present on another node: not recorded here',
        );
        return;
      }
      this.options.logger?.info(
        { driveID: existing.driveID, fromNodeID: owner, nodeID: self },
        'drive moved to this node',
      );
    }
    this.upsert(tx, self, info, slot, existing);
  }

  /** `existing`: the record with this serial, if there is one. */
  private upsert(
    tx: StoreTx,
    self: number,
    info: DriveInfo,
    slot: number,
    existing: DriveRecord | undefined,
  ): DriveRecord {
    if (existing) {
      const back = !existing.present && existing.status === 'failed' ? 'active' : existing.status;
      const updated: DriveRecord = {
        ...existing,
        nodeID: self,
        path: info.path,
        present: true,
        opal: info.opal,
        capacity: info.capacityBytes,
        status: back,
        driveFailureDetail: back === existing.status ? existing.driveFailureDetail : null,
      };
      // A drive found as it was is not written: a restart then commits (and syncs) nothing.
      if (!sameRecord(updated, existing)) putDrive(tx, updated);
      return updated;
    }
    const created: DriveRecord = {
      driveID: nextDriveID(tx),
      nodeID: self,
      serial: info.serial,
      path: info.path,
      model: info.model,
      capacity: info.capacityBytes,
      slot,
      present: true,
      opal: info.opal,
      status: 'available',
      type: 'unknown',
      security: 'none',
      step: null,
      keyID: null,
      keyProviderID: null,
      ownerKeyID: null,
      driveSecurityFaultReason: 'none',
      driveFailureDetail: null,
    };
    putDrive(tx, created);
    return created;
  }

  private markGone(tx: StoreTx, d: DriveRecord): void {
    const inUse = d.status === 'active' || d.status === 'removing';
    putDrive(tx, {
      ...d,
      present: false,
      status: inUse ? 'failed' : d.status,
      driveFailureDetail: inUse ? 'The drive is no longer reachable.' : d.driveFailureDetail,
    });
  }
}

/** Serial → record; serials are unique among the records (upsert matches by serial). */
function bySerial(records: DriveRecord[]): Map<string, DriveRecord> {
  return new Map(records.map((d) => [d.serial, d]));
}

/**
 * An erase or removal a previous process did not finish (its async result is failed at
 * start, before this runs): the drive is available again instead of stuck mid-job. An
 * erase journaled on the drive (step `erasing`) stays erasing: hardware EAR's recovery
 * finishes it (the revert may have reached the drive) and makes the drive available.
 */
function settleInterrupted(tx: StoreTx, d: DriveRecord): void {
  if (d.status === 'erasing' && d.step !== 'erasing') putDrive(tx, { ...d, status: 'available' });
  else if (d.status === 'removing') putDrive(tx, { ...d, status: 'available', type: 'unknown' });
}

const wasInterrupted = (d: DriveRecord): boolean =>
  (d.status === 'erasing' && d.step !== 'erasing') || d.status === 'removing';

/** Whether two records of a drive hold the same values (the keys are in one order). */
const sameRecord = (a: DriveRecord, b: DriveRecord): boolean =>
  JSON.stringify(a) === JSON.stringify(b);
