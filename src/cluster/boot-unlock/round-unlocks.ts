// A round's unlock attempts: every drive to try with its AK, in parallel under the
// transport's in-flight limit, one attempt each. A refusal arms the drive's TryLimit guard,
// an unlock clears it. The AKs are zeroed once every attempt is over.
import type { Logger } from 'pino';
import type { OpalDrive } from '../../opal/drive';
import type { Store } from '../../store/store';
import type { InFlightLimit } from '../../util/in-flight-limit';
import type { DriveRecord } from '../drives/drive-records';
import type { MetricsSink } from '../metrics-sink';
import type { FetchedKeys } from './fetch-keys';
import type { DriveToTry } from './round-drives';
import { observeUnlocks } from './round-report';
import type { RoundTally } from './round-result';
import { clearGuard, recordRefusal } from './try-guard';
import { unlockDrive } from './unlock-drive';

export interface UnlocksDeps {
  store: Store;
  openDrive: (drive: DriveRecord) => OpalDrive;
  inFlight: InFlightLimit;
  /** This boot's id, for the TryLimit guard. */
  bootID: string;
  /** After a drive unlocked (the ioctl backend re-reads its partition table); may throw. */
  afterUnlock?: (path: string) => Promise<void>;
  metrics: MetricsSink;
  logger?: Logger;
}

type Timings = [ms: number, ok: boolean][];

/**
 * Tries every drive with its key; the outcomes go to `tally`. Throws the first error an
 * attempt's bookkeeping raised, once every attempt is over.
 */
export async function unlockDrives(
  deps: UnlocksDeps,
  toTry: DriveToTry[],
  keys: FetchedKeys,
  tally: RoundTally,
): Promise<void> {
  const timings: Timings = [];
  // allSettled: the AKs are zeroed only once no unlock can still read them (a store error
  // in one drive's bookkeeping must not hand a zeroed key to another drive).
  const settled = await Promise.allSettled(
    toTry.map((d) => deps.inFlight.run(() => tryDrive(deps, d, keys, tally, timings))),
  ).finally(() => {
    for (const ak of keys.aks.values()) if (Buffer.isBuffer(ak)) ak.fill(0);
    observeUnlocks(deps.metrics, timings);
  });
  const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (rejected) throw rejected.reason;
}

/** One attempt at one drive, and what its outcome means for the guard and the tally. */
async function tryDrive(
  deps: UnlocksDeps,
  { drive, key }: DriveToTry,
  keys: FetchedKeys,
  tally: RoundTally,
  timings: Timings,
): Promise<void> {
  const ak = keys.aks.get(key.keyID)!;
  if (!Buffer.isBuffer(ak)) return tally.fail(drive.driveID, ak);
  const started = performance.now();
  const outcome = await unlockDrive(deps.openDrive(drive), ak, deps.logger);
  timings.push([performance.now() - started, outcome.kind === 'unlocked']);
  if (outcome.kind === 'unlocked') {
    await clearGuard(deps.store, drive.driveID);
    tally.unlocked(drive.driveID);
    await afterUnlock(deps, drive);
  } else if (outcome.kind === 'refused') {
    await recordRefusal(deps.store, drive.driveID, key, deps.bootID);
    tally.fail(drive.driveID, {
      reason: 'the drive refused its key (NOT_AUTHORIZED)',
      retry: false,
    });
  } else if (outcome.kind === 'lockedOut') {
    tally.fail(drive.driveID, { reason: 'authority locked out (TryLimit reached)', retry: false });
  } else tally.fail(drive.driveID, { reason: outcome.reason, retry: true });
}

async function afterUnlock(deps: UnlocksDeps, drive: DriveRecord): Promise<void> {
  if (!deps.afterUnlock) return;
  try {
    await deps.afterUnlock(drive.path);
  } catch (err) {
    // The drive is unlocked; a stale partition table is the operator's to refresh.
    deps.logger?.warn(
      { driveID: drive.driveID, err: (err as Error).message },
      'could not re-read the partition table after unlock',
    );
  }
}
