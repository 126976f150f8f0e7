// What each drive method does on the drives' node, whichever node's API took it: the checks
// (the same errors on the calling node, against the store, as on the owner), the first step
// written in the call's transaction (all drives or none), and the rest after it commits,
// which records the outcome in the async result. A call of the node's own API and an
// intent taken from another node's go through the same steps (drives.ts, drive-intents.ts).
import type { Logger } from 'pino';
import type { Json, Store, StoreTx } from '../../store/store';
import type { AsyncResultService } from '../async-results/async-results';
import { releaseGuardIn } from '../boot-unlock/try-guard';
import { ElementError } from '../errors';
import { getDrive, putDrive, type DriveRecord, type DriveType } from './drive-records';
import type { AddDriveParam, DriveRequest, IntentKind } from './drive-intents';

export type DriveRole = 'volume' | 'block';

/** What hardware EAR does to drives: secure them when added, crypto-erase them on request. */
export interface DriveSecurer {
  /** Returns the IDs it could not secure, with the reason. */
  secure(driveIDs: number[]): Promise<Map<number, string>>;
  /** Returns the IDs it could not erase, with the reason. */
  erase(driveIDs: number[]): Promise<Map<number, string>>;
  /** This node's drives were read into its records (a node added later: its first time). */
  drivesRecorded?(): void;
}

/** Boot unlock's rounds, as RetryDriveUnlock needs them. */
export interface DriveUnlocker {
  /** RetryDriveUnlock on this node's own drives (all of them when none are named). */
  releaseGuards(driveIDs?: number[]): Promise<number[]>;
  /** An unlock round after the current one. */
  trigger(): void;
  /** Settles once no round is running or queued. */
  idle(): Promise<void>;
}

export interface DriveCallDeps {
  store: Store;
  asyncResults: AsyncResultService;
  securer(): DriveSecurer | undefined;
  unlocker(): DriveUnlocker | undefined;
  /** Serial or slot number → role; absent: slot 0 is the metadata (volume) drive. */
  roles?: Record<string, DriveRole>;
  /** After AddDrives made these drives active. */
  added(driveIDs: number[]): void;
  logger?: Logger;
}

export interface DriveCall {
  resultType: string;
  /** Throws the call's ElementError unless every drive can be acted on now; writes nothing. */
  check(records: DriveRecord[]): void;
  /** Checks, then writes the call's first step (all drives or none); returns the drives acted on. */
  begin(tx: StoreTx, records: DriveRecord[], request: DriveRequest): number[];
  /** The rest, once begin has committed, up to the outcome in the async result. */
  finish(handle: number, request: DriveRequest, acted: number[]): Promise<void>;
}

export function driveCalls(deps: DriveCallDeps): Record<IntentKind, DriveCall> {
  return {
    addDrives: {
      resultType: 'DriveAdd',
      check: checkAddable,
      begin(tx, records, request) {
        checkAddable(records);
        const types = request.kind === 'addDrives' ? request.drives : [];
        for (const d of records) {
          const requested = types.find((p) => p.driveID === d.driveID)?.type;
          putDrive(tx, { ...d, type: roleOf(deps.roles, d, requested) });
        }
        return request.driveIDs;
      },
      finish: (handle, request) => finishAdd(deps, handle, request.driveIDs),
    },
    removeDrives: {
      resultType: 'DriveRemoval',
      check: checkRemovable,
      begin(tx, records, request) {
        checkRemovable(records);
        for (const d of records) {
          putDrive(tx, d.status === 'active' ? { ...d, status: 'removing' } : removed(d));
        }
        return request.driveIDs;
      },
      finish: (handle, request) => finishRemove(deps, handle, request.driveIDs),
    },
    secureErase: {
      resultType: 'DriveSecureErase',
      check: checkErasable,
      begin(tx, records, request) {
        journalErase(tx, records);
        return request.driveIDs;
      },
      finish: (handle, request) => finishErase(deps, handle, request.driveIDs),
    },
    retryUnlock: {
      resultType: 'DriveUnlockRetry',
      check: () => undefined,
      // The same release as the node's own RetryDriveUnlock (BootUnlockService.releaseGuards).
      begin: (tx, records) => records.map((d) => d.driveID).filter((id) => releaseGuardIn(tx, id)),
      finish: (handle, _request, released) => finishUnlockRetry(deps, handle, released),
    },
  };
}

export function invalid(name: string, why: string): ElementError {
  return new ElementError('xInvalidParameter', `Invalid parameter ${name}: ${why}`);
}

function notPresent(d: DriveRecord): ElementError {
  return new ElementError('xDriveNotAvailable', `Drive ${d.driveID} is not present.`);
}

function checkAddable(records: DriveRecord[]): void {
  for (const d of records) {
    if (!d.present) throw notPresent(d);
    if (d.status !== 'available') {
      throw new ElementError(
        'xDriveNotAvailable',
        `Drive ${d.driveID} is ${d.status}; only available drives can be added.`,
      );
    }
  }
}

function checkRemovable(records: DriveRecord[]): void {
  for (const d of records) {
    if (d.status !== 'active' && d.status !== 'failed') {
      throw new ElementError(
        'xDriveNotActive',
        `Drive ${d.driveID} is ${d.status}; only active or failed drives can be removed.`,
      );
    }
  }
}

/** Throws, naming the drive, unless every drive can be erased now. */
function checkErasable(records: DriveRecord[]): void {
  for (const d of records) {
    if (!d.present) throw notPresent(d);
    if (d.status !== 'available') {
      throw new ElementError(
        'xDriveNotAvailable',
        `Drive ${d.driveID} is ${d.status}; only available drives can be erased.`,
      );
    }
    if (d.step !== null) {
      throw new ElementError(
        'xDriveNotAvailable',
        `Drive ${d.driveID} is being secured; it can be erased once that has finished.`,
      );
    }
  }
}

/**
 * Checks the drives, then journals them: step `erasing` is the erase's journal; a restart
 * finds the drive still erasing and hardware EAR finishes the erase, whatever the drive had
 * been through.
 */
function journalErase(tx: StoreTx, records: DriveRecord[]): void {
  checkErasable(records);
  for (const d of records) putDrive(tx, { ...d, status: 'erasing', step: 'erasing' });
}

/** A failed drive taken out of use keeps its record (and key) but leaves the list. */
function removed(d: DriveRecord): DriveRecord {
  return { ...d, status: 'available', type: 'unknown', present: false };
}

function roleOf(
  roles: Record<string, DriveRole> = {},
  d: DriveRecord,
  requested: AddDriveParam['type'],
): DriveType {
  // Element's "slice" drive is the one its slice (metadata) service runs on: a volume drive.
  if (requested) return requested === 'block' ? 'block' : 'volume';
  const configured = roles[d.serial] ?? roles[String(d.slot)];
  if (configured) return configured;
  if (Object.keys(roles).length === 0 && d.slot === 0) return 'volume';
  return 'block';
}

async function finishAdd(deps: DriveCallDeps, handle: number, ids: number[]): Promise<void> {
  let refused = new Map<number, string>();
  let failure: Error | undefined;
  try {
    const securer = deps.securer();
    if (securer) refused = await securer.secure(ids);
  } catch (err) {
    failure = err as Error;
  }
  const added = await deps.store.transaction((tx) => {
    const added: number[] = [];
    for (const id of ids) {
      const d = getDrive(tx, id);
      if (failure || refused.has(id) || d.status !== 'available') continue;
      putDrive(tx, { ...d, status: 'active' });
      added.push(id);
    }
    if (failure || refused.size > 0) {
      const reasons = [...refused].map(([id, why]) => `drive ${id}: ${why}`);
      deps.asyncResults.fail(tx, handle, {
        name: failure ? 'xDriveAddFailed' : 'xEnableDriveSecurityFailed',
        message: failure
          ? `Drives could not be secured: ${failure.message}`
          : `Drive security could not be enabled (${reasons.join('; ')}).`,
        driveIDs: added,
        failedDriveIDs: failure ? ids : [...refused.keys()],
      });
    } else {
      deps.asyncResults.succeed(tx, handle, { driveIDs: added });
    }
    return added;
  });
  deps.logger?.info({ handle, driveIDs: ids }, 'AddDrives finished');
  if (added.length > 0) deps.added(added);
}

async function finishRemove(deps: DriveCallDeps, handle: number, ids: number[]): Promise<void> {
  // No data to migrate away on this node: removing completes at once.
  await deps.store.transaction((tx) => {
    for (const id of ids) {
      const d = getDrive(tx, id);
      if (d.status === 'removing') putDrive(tx, { ...d, status: 'available', type: 'unknown' });
    }
    deps.asyncResults.succeed(tx, handle, { driveIDs: ids });
  });
  deps.logger?.info({ handle, driveIDs: ids }, 'RemoveDrives finished');
}

async function finishErase(deps: DriveCallDeps, handle: number, ids: number[]): Promise<void> {
  let failed: Map<number, string>;
  const securer = deps.securer();
  try {
    if (!securer) throw new Error('no drive security service');
    failed = await securer.erase(ids);
  } catch (err) {
    failed = new Map(ids.map((id) => [id, (err as Error).message]));
  }
  await deps.store.transaction((tx) => {
    for (const id of ids) {
      const d = getDrive(tx, id);
      // Still journaled: the revert may have reached the drive, so it stays erasing until
      // hardware EAR has found out and finished. Without a securer nothing reached it.
      if (securer && d.step === 'erasing') continue;
      putDrive(tx, { ...d, status: 'available', step: d.step === 'erasing' ? null : d.step });
    }
    if (failed.size === 0) {
      deps.asyncResults.succeed(tx, handle, { driveIDs: ids });
      return;
    }
    const reasons = [...failed].map(([id, why]) => `drive ${id}: ${why}`);
    deps.asyncResults.fail(tx, handle, {
      name: 'xSecureEraseFailed',
      message: `Drives could not be erased (${reasons.join('; ')}).`,
      driveIDs: ids.filter((id) => !failed.has(id)),
      failedDriveIDs: [...failed.keys()],
    });
  });
  deps.logger?.info({ handle, driveIDs: ids }, 'SecureEraseDrives finished');
}

/**
 * The guards are released: an unlock round now, and the result once it is over (the
 * drives' outcome shows in ListDrives and the faults, as after the node's own call).
 */
async function finishUnlockRetry(
  deps: DriveCallDeps,
  handle: number,
  released: number[],
): Promise<void> {
  const unlocker = deps.unlocker();
  if (unlocker) {
    unlocker.trigger();
    await unlocker.idle();
  }
  await deps.store.transaction((tx) => {
    deps.asyncResults.succeed(tx, handle, { released: released as Json });
  });
  deps.logger?.info({ handle, released }, 'RetryDriveUnlock finished');
}
