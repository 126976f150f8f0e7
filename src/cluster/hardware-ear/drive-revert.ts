// The drive side of SecureEraseDrives: REVERT_TPR as SID puts the drive in factory state
// (SID back to MSID, Locking SP inactive, every media key regenerated: a crypto-erase).
// After a restart, the erase journal and the drive's status tell whether a revert that was
// about to be sent reached the drive. OpalDrive zeroes every PIN it is given, so each call
// gets its own copy. The store side of an erase (its journal, the keys that go) is
// secure-erase.ts.
import { OpalNotAuthorizedError } from '../../opal/errors';
import type { DriveStatus, OpalDrive } from '../../opal/drive';
import type { EraseJournal } from '../drives/drive-records';
import { takeOwnershipOnly } from './drive-locking';

/**
 * reverted: the revert reached the drive. notSent: it did not, the erase can start over.
 * unknown: the Locking SP was inactive before the revert, so status cannot tell.
 */
export type RevertEvidence = 'reverted' | 'notSent' | 'unknown';

export function revertEvidence(
  journal: EraseJournal | undefined,
  status: DriveStatus,
): RevertEvidence {
  // The journal is written before REVERT_TPR is sent: without it nothing was sent.
  if (!journal) return 'notSent';
  checkAnswering(status);
  // A revert leaves the Locking SP inactive: still active, the revert never reached it.
  if (status.lockingEnabled) return 'notSent';
  return journal.lockingEnabled ? 'reverted' : 'unknown';
}

/**
 * The unknown case: one revert with the SID key. Refused: the drive does not hold the key,
 * so its SID is at MSID, either reverted by the interrupted erase or never owned by this
 * key (an ownership for the erase that was itself interrupted). Owning it again with MSID
 * and reverting erases it in both cases, at the cost of at most one refused SID attempt.
 * Undefined once erased; else why not (owned elsewhere).
 */
export async function finishUnknownRevert(
  drive: OpalDrive,
  sidPin: Buffer,
): Promise<string | undefined> {
  try {
    await drive.revertTper(Buffer.from(sidPin));
    return undefined;
  } catch (err) {
    if (!(err instanceof OpalNotAuthorizedError)) throw err;
  }
  const refused = await takeOwnershipOnly(drive, sidPin);
  if (refused) return refused;
  await drive.revertTper(Buffer.from(sidPin));
  return undefined;
}

/**
 * A drive answering with errors reports all-zero status flags (no Opal support at all),
 * which would read as an inactive Locking SP: that is no evidence, the caller retries.
 */
export function checkAnswering(status: DriveStatus): void {
  if (!status.supported) throw new Error('status: the drive reports no Opal support (I/O errors?)');
}
