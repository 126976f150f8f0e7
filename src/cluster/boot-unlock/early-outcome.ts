// What the early unlock (early-unlock.ts) did, recorded once the store is open, before the
// first round: the refusals it met become the store's TryLimit guards (then leave the early
// guards' file), the drives it unlocked lose any guard of an earlier boot, and its unlock
// timings go to metrics. The key servers it asked are reported with the first round's
// (BootUnlockService.round), which also finds the drives it unlocked unlocked and records
// every drive's outcome.
import type { Logger } from 'pino';
import { MAX_TX_WRITES, type Store, type StoreTx } from '../../store/store';
import type { MetricsSink } from '../metrics-sink';
import { dropEarlyGuards } from './early-guards';
import type { EarlyOutcome } from './early-unlock';
import { observeUnlocks } from './round-report';
import { GUARD_PREFIX, putGuardIn, releaseGuardIn } from './try-guard';

export interface EarlyRecordDeps {
  store: Store;
  /** Where the early guards' file is (the stateDir); none when absent. */
  keyPlanDir?: string;
  metrics: MetricsSink;
  logger?: Logger;
}

export async function recordEarlyOutcome(
  deps: EarlyRecordDeps,
  early: EarlyOutcome,
): Promise<void> {
  const { store, logger } = deps;
  const guards = early.guards.filter((g) => g.bootID === early.bootID);
  const unlocked = new Set(early.unlocked);
  const stale = store
    .list(GUARD_PREFIX)
    .map((e) => Number(e.key.slice(GUARD_PREFIX.length)))
    .filter((id) => unlocked.has(id));
  const writes: ((tx: StoreTx) => void)[] = [
    ...guards.map(
      ({ driveID, ...guard }) =>
        (tx: StoreTx) =>
          putGuardIn(tx, driveID, guard),
    ),
    ...stale.map((id) => (tx: StoreTx) => void releaseGuardIn(tx, id)),
  ];
  for (let first = 0; first < writes.length; first += MAX_TX_WRITES) {
    const chunk = writes.slice(first, first + MAX_TX_WRITES);
    await store.transaction((tx) => chunk.forEach((write) => write(tx)));
  }
  if (deps.keyPlanDir && early.guards.length) dropEarlyGuards(deps.keyPlanDir, early.guards);
  if (guards.length)
    logger?.warn(
      { driveIDs: guards.map((g) => g.driveID) },
      'TryLimit guards armed before the store opened are recorded',
    );
  observeUnlocks(deps.metrics, early.timings);
}
