// GET_STATUS flags and GET_LR_STATUS lock states in words.
import { OpalLockState, OpalStatusFlag } from '../abi';

export interface DriveStatus {
  /** Raw opal_status.flags. */
  flags: number;
  /** The kernel found an Opal 1/2 ComID in Level 0 discovery. */
  supported: boolean;
  lockingSupported: boolean;
  /** The Locking SP is activated. */
  lockingEnabled: boolean;
  /** At least one range is read- or write-locked. */
  locked: boolean;
  mbrEnabled: boolean;
  mbrDone: boolean;
  sumSupported: boolean;
}

export function describeStatus(flags: number): DriveStatus {
  const has = (bit: number) => (flags & bit) !== 0;
  return {
    flags,
    supported: has(OpalStatusFlag.SUPPORTED),
    lockingSupported: has(OpalStatusFlag.LOCKING_SUPPORTED),
    lockingEnabled: has(OpalStatusFlag.LOCKING_ENABLED),
    locked: has(OpalStatusFlag.LOCKED),
    mbrEnabled: has(OpalStatusFlag.MBR_ENABLED),
    mbrDone: has(OpalStatusFlag.MBR_DONE),
    sumSupported: has(OpalStatusFlag.SUM_SUPPORTED),
  };
}

export type LockMode = 'rw' | 'ro' | 'locked';

export function lockStateOf(mode: LockMode): number {
  return mode === 'rw' ? OpalLockState.RW : mode === 'ro' ? OpalLockState.RO : OpalLockState.LK;
}

/** The kernel reports RW (both unlocked), RO (write-locked) or LK (both locked). */
export function lockModeOf(lState: number): LockMode | undefined {
  if (lState === OpalLockState.RW) return 'rw';
  if (lState === OpalLockState.RO) return 'ro';
  if (lState === OpalLockState.LK) return 'locked';
  return undefined;
}
