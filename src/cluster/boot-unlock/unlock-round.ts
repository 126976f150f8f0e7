// One pass over the drives under hardware EAR: their status read, the locked ones' keys
// taken from those sent for ahead or fetched (one batched Get per provider), each checked
// against its key check value, and one unlock attempt per drive, in parallel under the
// transport's in-flight limit. Reporting the outcome is the caller's (round-report.ts).
import type { KeyFailure } from './fetch-keys';
import type { Prefetched } from './prefetch-keys';
import { lockedDrivesToTry, type DriveScanDeps, type RoundRecords } from './round-drives';
import { keysForRound, type RoundKeysDeps } from './round-keys';
import { roundTally, type RoundResult } from './round-result';
import { unlockDrives, type UnlocksDeps } from './round-unlocks';
import type { ServerOutcomes } from '../key-servers/server-faults';
import type { DriveToTry } from './round-drives';

export type RoundDeps = DriveScanDeps & RoundKeysDeps & UnlocksDeps;

/**
 * Unlocks what it can of `records.candidates`, taking `prefetched`'s keys when they cover
 * the locked drives. Returns the result and each contacted key server's outcome.
 * `preconnect`: connect to the key providers while the status is read (keysForRound).
 * `decided`: drives left locked by an attempt just before (lockedDrivesToTry).
 */
export async function unlockRound(
  deps: RoundDeps,
  records: RoundRecords,
  prefetched: Prefetched | undefined,
  opts: { preconnect: boolean; decided?: ReadonlyMap<number, KeyFailure> } = { preconnect: true },
): Promise<{ result: RoundResult; servers: ServerOutcomes }> {
  const tally = roundTally();
  let held: DriveToTry[] = [];
  try {
    const findDrivesToTry = async () =>
      (held = await lockedDrivesToTry(deps, records, tally.fail, opts.decided));
    const { toTry, keys } = await keysForRound(deps, records, prefetched, findDrivesToTry, opts);
    try {
      const guarded = new Set(records.guards.keys());
      await unlockDrives(deps, toTry, keys.aks, tally, guarded);
    } finally {
      deps.keysAsked(); // when the keys were in at once, the unlocks came first
    }
    if (toTry.length)
      deps.logger?.debug(
        { drives: toTry.length, unlocked: tally.result.unlocked.length },
        'drives unlocked',
      );
    return { result: tally.finish(records.candidates.length), servers: keys.servers };
  } finally {
    // Those an error left open (each attempt releases its own drive).
    for (const d of held) void d.opal.release().catch(() => undefined);
  }
}
