// One pass over the drives under hardware EAR: their status read, the locked ones' keys
// taken from those sent for ahead or fetched (one batched Get per provider), each checked
// against its key check value, and one unlock attempt per drive, in parallel under the
// transport's in-flight limit. Reporting the outcome is the caller's (round-report.ts).
import type { DriveRecord } from '../drives/drive-records';
import type { Prefetched } from './prefetch-keys';
import { lockedDrivesToTry, type DriveScanDeps } from './round-drives';
import { keysForRound, type RoundKeysDeps } from './round-keys';
import { roundTally, type RoundResult } from './round-result';
import { unlockDrives, type UnlocksDeps } from './round-unlocks';
import type { ServerOutcomes } from '../key-servers/server-faults';

export type RoundDeps = DriveScanDeps & RoundKeysDeps & UnlocksDeps;

/**
 * Unlocks what it can of `candidates` (candidateDrives), taking `prefetched`'s keys when
 * they cover the locked drives. Returns the result and each contacted key server's outcome.
 */
export async function unlockRound(
  deps: RoundDeps,
  candidates: DriveRecord[],
  prefetched: Prefetched | undefined,
): Promise<{ result: RoundResult; servers: ServerOutcomes }> {
  const tally = roundTally();
  const { toTry, keys } = await keysForRound(deps, candidates, prefetched, () =>
    lockedDrivesToTry(deps, candidates, tally.fail),
  );
  try {
    await unlockDrives(deps, toTry, keys, tally);
  } finally {
    deps.keysAsked(); // when the keys were in at once, the unlocks came first
  }
  if (toTry.length)
    deps.logger?.debug(
      { drives: toTry.length, unlocked: tally.result.unlocked.length },
      'drives unlocked',
    );
  return { result: tally.finish(candidates.length), servers: keys.servers };
}
