// One drive, one attempt: unlock the global range (RW) as Admin1 with its AK, confirmed by
// OpalDrive.unlock's read-back (GET_LR_STATUS, or the drive's LOCKED flag on kernels
// without it); then, once every drive of the pass has had its attempt (round-unlocks.ts),
// IOC_OPAL_SAVE so the kernel re-unlocks it after a suspend/resume: the save is for the
// next resume, not for this boot, and must not hold back another drive's unlock.
// OpalDrive zeroes every PIN it is given, so each call gets its own copy. The boot's
// rounds and the early unlock before the store both unlock through here.
import type { Logger } from 'pino';
import { OpalUser } from '../../opal/abi';
import type { OpalDrive } from '../../opal/drive';
import { OpalLockedOutError, OpalNotAuthorizedError } from '../../opal/errors';
import type { KeyFailure } from './fetch-keys';

export type UnlockOutcome =
  | { kind: 'unlocked' }
  | { kind: 'refused' }
  | { kind: 'lockedOut' }
  | { kind: 'failed'; reason: string };

export async function unlockDrive(drive: OpalDrive, ak: Buffer): Promise<UnlockOutcome> {
  try {
    const { verifiedBy } = await drive.unlock(admin1(ak), 0, 'rw');
    // Only without GET_LR_STATUS: the drive still says a range is locked.
    if (verifiedBy === 'unverified') return { kind: 'failed', reason: 'still locked after unlock' };
  } catch (err) {
    if (err instanceof OpalNotAuthorizedError) return { kind: 'refused' };
    if (err instanceof OpalLockedOutError) return { kind: 'lockedOut' };
    return { kind: 'failed', reason: `unlock: ${(err as Error).message}` };
  }
  return { kind: 'unlocked' };
}

/** IOC_OPAL_SAVE of an unlocked drive's unlock; a failure is logged, never thrown. */
export async function saveUnlock(drive: OpalDrive, ak: Buffer, logger?: Logger): Promise<void> {
  try {
    await drive.save(admin1(ak), 0, 'rw');
  } catch (err) {
    // The drive is unlocked; only a later resume from suspend would relock it.
    logger?.warn({ device: drive.path, err: (err as Error).message }, 'IOC_OPAL_SAVE failed');
  }
}

const admin1 = (ak: Buffer) => ({ who: OpalUser.ADMIN1, pin: Buffer.from(ak) });

/** Why a drive is still locked after `outcome`; undefined when it unlocked. */
export function failureOf(outcome: UnlockOutcome): KeyFailure | undefined {
  switch (outcome.kind) {
    case 'unlocked':
      return undefined;
    case 'refused':
      return { reason: 'the drive refused its key (NOT_AUTHORIZED)', retry: false };
    case 'lockedOut':
      return { reason: 'authority locked out (TryLimit reached)', retry: false };
    default:
      return { reason: outcome.reason, retry: true };
  }
}
