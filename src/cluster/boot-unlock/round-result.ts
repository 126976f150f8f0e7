// What an unlock round found: the drives it unlocked, those it left locked and why, whether
// a later round may do better, and where the drives under hardware EAR stand (the progress
// systemd's STATUS= line tells).
import type { KeyFailure } from './fetch-keys';

export interface RoundResult {
  unlocked: number[];
  /** driveID → why it is still locked. */
  failed: Map<number, string>;
  /** A later round may succeed (a key server issue). */
  retry: boolean;
  progress: UnlockProgress;
}

/** Where the drives under hardware EAR stand after a round. */
export interface UnlockProgress {
  /** Present drives under hardware EAR. */
  total: number;
  unlocked: number;
  /** Locked for a reason a later round may overcome (key server, transport). */
  waiting: number;
  /** Locked for a reason only an operator can fix (wrong key, guard, locked out). */
  failed: number;
}

/** The STATUS= line for systemd: "unlocked 10/12 drives; 2 waiting for key server". */
export function progressLine(p: UnlockProgress): string {
  if (p.total === 0) return 'no drives to unlock';
  let line = `unlocked ${p.unlocked}/${p.total} drives`;
  if (p.waiting) line += `; ${p.waiting} waiting for key server`;
  if (p.failed) line += `; ${p.failed} failed`;
  return line;
}

/** A round that looked at no drive (hardware EAR not enabled). */
export function emptyRoundResult(): RoundResult {
  return {
    unlocked: [],
    failed: new Map(),
    retry: false,
    progress: { total: 0, unlocked: 0, waiting: 0, failed: 0 },
  };
}

/** Marks a drive left locked this round, and why. */
export type FailDrive = (driveID: number, failure: KeyFailure) => void;

/** A round's result as its steps find it out. */
export interface RoundTally {
  readonly result: RoundResult;
  /** driveID → why it is still locked, and whether a later attempt may do better. */
  readonly failures: ReadonlyMap<number, KeyFailure>;
  fail: FailDrive;
  unlocked(driveID: number): void;
  /** The result, its progress counted over the `total` drives the round looked at. */
  finish(total: number): RoundResult;
}

export function roundTally(): RoundTally {
  const result = emptyRoundResult();
  /** The failed drives a later round may unlock. */
  const waiting = new Set<number>();
  const failures = new Map<number, KeyFailure>();
  return {
    result,
    failures,
    fail(driveID, failure) {
      result.failed.set(driveID, failure.reason);
      failures.set(driveID, failure);
      if (failure.retry) waiting.add(driveID);
      result.retry ||= failure.retry;
    },
    unlocked(driveID) {
      result.unlocked.push(driveID);
    },
    finish(total) {
      result.progress = {
        total,
        unlocked: total - result.failed.size,
        waiting: waiting.size,
        failed: result.failed.size - waiting.size,
      };
      return result;
    },
  };
}
