// Unlock attempts: every drive to try with its AK, in parallel under the transport's
// in-flight limit, one attempt each; then each drive that unlocked has its unlock saved
// for the next resume (IOC_OPAL_SAVE), so that no save holds back another drive's unlock.
// Each drive is released (closed) once its attempt, and its save, are over.
// What an outcome means for the TryLimit guard is the caller's (AttemptBook): the round
// keeps guards in the store, the early unlock before the store in a file of its own. The
// AKs are zeroed once every attempt is over.
import type { Logger } from 'pino';
import type { OpalDrive } from '../../opal/drive';
import type { Store } from '../../store/store';
import type { InFlightLimit } from '../../util/in-flight-limit';
import type { MetricsSink } from '../metrics-sink';
import type { KeyFailure } from './fetch-keys';
import type { DriveToTry } from './round-drives';
import { observeUnlocks } from './round-report';
import type { RoundTally } from './round-result';
import { clearGuard, recordRefusal } from './try-guard';
import { failureOf, saveUnlock, unlockDrive } from './unlock-drive';

export interface AttemptDeps {
  inFlight: InFlightLimit;
  /** After a drive unlocked (the ioctl backend re-reads its partition table); may throw. */
  afterUnlock?: (path: string) => Promise<void>;
  metrics: MetricsSink;
  logger?: Logger;
}

/** One drive to attempt: held open, and which key (by keyID) unlocks it. */
export interface Attempt {
  driveID: number;
  opal: OpalDrive;
  keyID: string;
}

/** What the guard makes of an outcome; may throw (the attempt is still over). */
export interface AttemptBook<A extends Attempt> {
  unlocked(attempt: A): Promise<void>;
  refused(attempt: A): Promise<void>;
}

export type Timings = [ms: number, ok: boolean][];

/**
 * Tries every drive with its key (keyID → AK or why there is none); the outcomes go to
 * `tally`. Returns the timings of the attempts. Throws the first error the bookkeeping
 * raised, once every attempt is over.
 */
export async function attemptUnlocks<A extends Attempt>(
  deps: AttemptDeps,
  attempts: A[],
  aks: ReadonlyMap<string, Buffer | KeyFailure>,
  tally: RoundTally,
  book: AttemptBook<A>,
): Promise<Timings> {
  const timings: Timings = [];
  // Unlocked, to be saved: even when its bookkeeping then threw, the drive is unlocked.
  const toSave = new Set<A>();
  const release = (a: A) => a.opal.release();
  // allSettled: the AKs are zeroed only once no unlock or save can still read them (a store
  // error in one drive's bookkeeping must not hand a zeroed key to another drive).
  let settled: PromiseSettledResult<void>[];
  try {
    settled = await Promise.allSettled(
      attempts.map((a) =>
        deps.inFlight.run(() =>
          attempt(deps, a, aks.get(a.keyID), tally, book, timings, () => toSave.add(a)).finally(
            () => (toSave.has(a) ? undefined : release(a)),
          ),
        ),
      ),
    );
    await Promise.allSettled(
      [...toSave].map((a) =>
        deps.inFlight.run(() =>
          saveUnlock(a.opal, aks.get(a.keyID) as Buffer, deps.logger).finally(() => release(a)),
        ),
      ),
    );
  } finally {
    for (const ak of aks.values()) if (Buffer.isBuffer(ak)) ak.fill(0);
  }
  const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (rejected) throw rejected.reason;
  return timings;
}

/** One attempt at one drive, and what its outcome means for the guard and the tally. */
async function attempt<A extends Attempt>(
  deps: AttemptDeps,
  a: A,
  ak: Buffer | KeyFailure | undefined,
  tally: RoundTally,
  book: AttemptBook<A>,
  timings: Timings,
  unlocked: () => void,
): Promise<void> {
  if (!ak) return tally.fail(a.driveID, { reason: 'no key fetched', retry: true });
  if (!Buffer.isBuffer(ak)) return tally.fail(a.driveID, ak);
  const started = performance.now();
  const outcome = await unlockDrive(a.opal, ak);
  timings.push([performance.now() - started, outcome.kind === 'unlocked']);
  const failure = failureOf(outcome);
  if (!failure) {
    unlocked();
    await book.unlocked(a);
    tally.unlocked(a.driveID);
    await afterUnlock(deps, a);
    return;
  }
  if (outcome.kind === 'refused') await book.refused(a);
  tally.fail(a.driveID, failure);
}

async function afterUnlock(deps: AttemptDeps, a: Attempt): Promise<void> {
  if (!deps.afterUnlock) return;
  try {
    await deps.afterUnlock(a.opal.path);
  } catch (err) {
    // The drive is unlocked; a stale partition table is the operator's to refresh.
    deps.logger?.warn(
      { driveID: a.driveID, err: (err as Error).message },
      'could not re-read the partition table after unlock',
    );
  }
}

export interface UnlocksDeps extends AttemptDeps {
  store: Store;
  /** This boot's id, for the TryLimit guard. */
  bootID: string;
}

/**
 * A round's attempts: a refusal arms the drive's guard in the store, an unlock clears the
 * guard it had (`guarded`: the drives with one when the round read them).
 */
export async function unlockDrives(
  deps: UnlocksDeps,
  toTry: DriveToTry[],
  aks: ReadonlyMap<string, Buffer | KeyFailure>,
  tally: RoundTally,
  guarded: ReadonlySet<number>,
): Promise<void> {
  type RoundAttempt = Attempt & { record: DriveToTry };
  const attempts: RoundAttempt[] = toTry.map((d) => ({
    driveID: d.drive.driveID,
    opal: d.opal,
    keyID: d.key.keyID,
    record: d,
  }));
  const timings = await attemptUnlocks(deps, attempts, aks, tally, {
    unlocked: async (a) => {
      if (guarded.has(a.driveID)) await clearGuard(deps.store, a.driveID);
    },
    refused: (a) => recordRefusal(deps.store, a.driveID, a.record.key, deps.bootID),
  });
  observeUnlocks(deps.metrics, timings);
}
