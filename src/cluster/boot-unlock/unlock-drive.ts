// One drive, one attempt: unlock the global range (RW) as Admin1 with its AK, confirm by
// re-reading the drive's status, then IOC_OPAL_SAVE so the kernel re-unlocks it after a
// suspend/resume. OpalDrive zeroes every PIN it is given, so each call gets its own copy.
import type { Logger } from 'pino';
import { OpalUser } from '../../opal/abi';
import type { OpalDrive } from '../../opal/drive';
import { OpalLockedOutError, OpalNotAuthorizedError } from '../../opal/errors';

export type UnlockOutcome =
  | { kind: 'unlocked' }
  | { kind: 'refused' }
  | { kind: 'lockedOut' }
  | { kind: 'failed'; reason: string };

export async function unlockDrive(
  drive: OpalDrive,
  ak: Buffer,
  logger?: Logger,
): Promise<UnlockOutcome> {
  const admin1 = () => ({ who: OpalUser.ADMIN1, pin: Buffer.from(ak) });
  try {
    await drive.unlock(admin1(), 0, 'rw');
  } catch (err) {
    if (err instanceof OpalNotAuthorizedError) return { kind: 'refused' };
    if (err instanceof OpalLockedOutError) return { kind: 'lockedOut' };
    return { kind: 'failed', reason: `unlock: ${(err as Error).message}` };
  }
  try {
    if ((await drive.status()).locked)
      return { kind: 'failed', reason: 'still locked after unlock' };
  } catch (err) {
    return { kind: 'failed', reason: `status after unlock: ${(err as Error).message}` };
  }
  try {
    await drive.save(admin1(), 0, 'rw');
  } catch (err) {
    // The drive is unlocked; only a later resume from suspend would relock it.
    logger?.warn({ device: drive.path, err: (err as Error).message }, 'IOC_OPAL_SAVE failed');
  }
  return { kind: 'unlocked' };
}
