// What a round tells the rest of the node: a warning per drive left locked, a
// kmipServerFault per key server that could not serve, driveFailed for the drives left
// locked, the drive records' outcomes (metadata grace included), and the unlock timings
// for metrics.
import type { Logger } from 'pino';
import { MAX_TX_WRITES, type Store } from '../../store/store';
import type { DriveRecord } from '../drives/drive-records';
import type { FaultService } from '../faults';
import type { MetricsSink } from '../metrics-sink';
import { OUTCOME_WRITES, recordOutcomes, reportMovedMetadataDrives } from './drive-outcomes';
import type { RoundResult } from './round-result';
import { reportServers, type ServerOutcomes } from '../key-servers/server-faults';

const DEFAULT_METADATA_GRACE_SEC = 360;

export interface ReportDeps {
  store: Store;
  faults: FaultService;
  /** A metadata drive locked this long is failed and moved to available (default 360). */
  metadataGraceSec?: number;
  logger?: Logger;
}

/** What reporting remembers from one round to the next. */
export interface ReportMemory {
  /** driveID → when this process first saw the (metadata) drive locked. */
  lockedSince: Map<number, number>;
  /**
   * What the last key check found wrong with keys, per key server. A round that fetched
   * other keys from that server does not resolve its fault: the keys found bad are still bad.
   */
  keyProblems: Map<number, string>;
}

/**
 * Reports a round: `servers` is each contacted key server's outcome, `candidates` the drives
 * it looked at. Returns in how many ms a metadata drive's grace ends, if one is running.
 */
export async function reportRound(
  deps: ReportDeps,
  memory: ReportMemory,
  round: {
    /** This node's: its driveFailed and driveAvailable faults. */
    nodeID: number;
    servers: ServerOutcomes;
    candidates: DriveRecord[];
    result: RoundResult;
  },
): Promise<number | undefined> {
  const { faults, store, logger } = deps;
  const { nodeID, servers, candidates, result } = round;
  for (const [driveID, reason] of result.failed) {
    logger?.warn({ driveID, reason }, 'drive left locked');
  }
  const graceMs = (deps.metadataGraceSec ?? DEFAULT_METADATA_GRACE_SEC) * 1000;
  const now = Date.now();
  for (const [keyServerID, cause] of servers) {
    const known = memory.keyProblems.get(keyServerID);
    if (cause === null && known) servers.set(keyServerID, known);
  }
  await store.transaction((tx) => {
    reportServers(tx, faults, servers, 'driveKeys');
    faults.reportNodeDrivesIn(
      tx,
      'driveFailed',
      nodeID,
      [...result.failed.keys()].sort((a, b) => a - b),
    );
  });
  // Each drive's record stands on its own: in chunks, a transaction's write limit apart.
  let graceEnd: number | undefined;
  const perTx = Math.floor(MAX_TX_WRITES / OUTCOME_WRITES);
  for (let first = 0; first < candidates.length; first += perTx) {
    const chunk = candidates.slice(first, first + perTx);
    const end = await store.transaction((tx) =>
      recordOutcomes(tx, {
        candidates: chunk,
        failed: result.failed,
        lockedSince: memory.lockedSince,
        graceMs,
        now,
      }),
    );
    if (end !== undefined) graceEnd = Math.min(graceEnd ?? end, end);
  }
  await store.transaction((tx) => reportMovedMetadataDrives(tx, faults, nodeID));
  return graceEnd === undefined ? undefined : Math.max(0, graceEnd - now);
}

/**
 * Into the unlock histogram once the round is over and its waiters (READY=1 among them)
 * have run; only while the sink records (else prom-client is never loaded).
 */
export function observeUnlocks(metrics: MetricsSink, timings: [ms: number, ok: boolean][]): void {
  if (timings.length === 0 || !metrics.recording()) return;
  setImmediate(() => metrics.unlocks(timings));
}
