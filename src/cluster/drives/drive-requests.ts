// Where a drive method's request is carried out: by this node, or, for another node's
// drives, by that node, which finds it recorded as its intent (drive-intents.ts). The
// request names the drives of one node: refused when they span several, so that no request
// is ever carried out on some nodes and not on others. Both ways go through the method's
// DriveCall (drive-calls.ts): the owner's checks and first step in one transaction, then
// its finish.
import type { Logger } from 'pino';
import type { Store } from '../../store/store';
import type { AsyncResultService } from '../async-results/async-results';
import { ElementError } from '../errors';
import { invalid, type DriveCall } from './drive-calls';
import {
  intentKey,
  intentsFor,
  putIntent,
  requireOnline,
  type DriveIntent,
  type DriveRequest,
  type IntentKind,
} from './drive-intents';
import { driveNodeID, getDrive } from './drive-records';
import type { NodeScope } from './node-scope';

export interface DriveRequestDeps {
  store: Store;
  scope: NodeScope;
  asyncResults: AsyncResultService;
  calls: Record<IntentKind, DriveCall>;
  /** Runs a call's finish in the background (DriveService waits for it when stopping). */
  track(job: Promise<void>): void;
  logger?: Logger;
}

export class DriveRequests {
  constructor(private readonly deps: DriveRequestDeps) {}

  /**
   * A drive method's request: the drives of one node (refused when they span several, so
   * that no request is ever carried out in part). This node's own are checked and begun in
   * one transaction with the async result; another node's are checked against the store
   * and recorded, with the async result, as that node's intent, refused while it is offline.
   */
  async request(req: DriveRequest): Promise<number> {
    const { driveIDs } = req;
    checkCount(driveIDs.length);
    const duplicate = driveIDs.find((id, i) => driveIDs.indexOf(id) !== i);
    if (duplicate !== undefined) throw invalid('drives', `drive ${duplicate} is listed twice.`);
    const call = this.deps.calls[req.kind];
    const started = await this.deps.store.transaction((tx) => {
      const records = driveIDs.map((id) => getDrive(tx, id));
      const owners = [...new Set(records.map(driveNodeID))];
      if (owners.length > 1) {
        throw invalid(
          'drives',
          `the drives are on nodes ${owners.join(', ')}; send each node's drives in a call of its own.`,
        );
      }
      const owner = owners[0]!;
      const self = this.deps.scope.nodeID(tx);
      if (owner === self) {
        const acted = call.begin(tx, records, req);
        return { handle: this.deps.asyncResults.start(tx, call.resultType, { driveIDs }), acted };
      }
      // A node not in the cluster takes no request: refused as ownDrive refuses it.
      if (self === undefined) this.deps.scope.ownDrive(tx, driveIDs[0]!);
      requireOnline(tx, owner, driveIDs);
      call.check(records);
      const handle = this.deps.asyncResults.start(tx, call.resultType, { driveIDs }, owner);
      putIntent(tx, { ...req, nodeID: owner, asyncHandle: handle, requestedBy: self ?? null });
      return { handle, acted: undefined };
    });
    const { handle, acted } = started;
    if (acted) this.deps.track(call.finish(handle, req, acted));
    else this.deps.logger?.info({ handle, kind: req.kind, driveIDs }, 'recorded for their node');
    return handle;
  }

  /** Carries out the intents waiting for this node (each taken once: see takeIntent). */
  takeIntents(): void {
    const self = this.deps.scope.nodeID(this.deps.store);
    if (self === undefined) return;
    for (const intent of intentsFor(this.deps.store, self))
      this.deps.track(this.takeIntent(intent));
  }

  /**
   * Takes an intent in one transaction: it leaves the store, and the drives, checked again
   * (another call may have changed them meanwhile), get the call's first step, or the async
   * result fails with the reason: all or none. Already taken, or its result no longer
   * running: nothing.
   */
  private async takeIntent(intent: DriveIntent): Promise<void> {
    const { asyncHandle: handle, driveIDs } = intent;
    const call = this.deps.calls[intent.kind];
    const acted = await this.deps.store.transaction((tx) => {
      const k = intentKey(intent.nodeID, handle);
      if (!tx.get(k)) return undefined;
      tx.delete(k);
      if (!this.deps.asyncResults.isRunning(tx, handle)) return undefined;
      try {
        const records = driveIDs.map((id) => this.deps.scope.ownDrive(tx, id));
        return call.begin(tx, records, intent);
      } catch (err) {
        if (!(err instanceof ElementError)) throw err;
        this.deps.asyncResults.fail(tx, handle, {
          name: err.elementName,
          message: err.message,
          driveIDs: [],
          failedDriveIDs: driveIDs,
        });
        return undefined;
      }
    });
    if (!acted) return;
    this.deps.logger?.info(
      { handle, kind: intent.kind, driveIDs, requestedBy: intent.requestedBy },
      'request taken from another node',
    );
    await call.finish(handle, intent, acted);
  }
}

/**
 * Drives one AddDrives, RemoveDrives, SecureEraseDrives or RetryDriveUnlock call may name:
 * the call is one transaction (all or nothing) of a record per drive, its async result and,
 * for another node, its intent.
 */
export const MAX_DRIVES_PER_CALL = 100;

function checkCount(n: number): void {
  if (n === 0) throw invalid('drives', 'must list at least one drive.');
  if (n > MAX_DRIVES_PER_CALL)
    throw invalid('drives', `at most ${MAX_DRIVES_PER_CALL} drives per call, got ${n}.`);
}
