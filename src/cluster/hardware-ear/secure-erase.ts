// SecureEraseDrives, store side: REVERT_TPR as SID crypto-erases the drive (factory state;
// the drive side is drive-revert.ts), then its keys go. A drive never owned is owned first
// with a throwaway key, recorded (sealed) before it is used. The erase is journaled on the
// drive record (step `erasing`, with what a restart needs to tell whether the revert
// reached the drive) just before the revert is sent; a drive whose revert may or may not
// have happened keeps its journal, and finishInterruptedErases finishes it after a restart.
import { recordAuditIn } from '../audit';
import { keyRecordFor, newDriveKey, putKeyRecord } from '../drive-keys/drive-keys';
import { withNewKeySealing } from '../drive-keys/internal-sealing';
import { getDrive, putDrive, type DriveRecord } from '../drives/drive-records';
import { crashPoint } from '../test-hooks';
import { OpalStatusError } from '../../opal/errors';
import { mapLimit } from '../../util/map-limit';
import { takeOwnershipOnly } from './drive-locking';
import { checkAnswering, finishUnknownRevert, revertEvidence } from './drive-revert';
import { loadAk, withOneDak, type EarDeps } from './ear-deps';
import { destroyPendingKeys, discardDriveKeys, markKeyDestroyed } from './key-retirement';

/** An erase the drive's state or the drive itself refused: it did not reach the drive. */
class EraseRefused extends Error {}

/**
 * The drives of a SecureEraseDrives call, already journaled `erasing` by the caller, whose
 * IDs are in deps.work.liveCallErases (forgotten here once done). Returns the IDs that could
 * not be erased, with the reason.
 */
export async function eraseDrives(deps: EarDeps, driveIDs: number[]): Promise<Map<number, string>> {
  const failed = new Map<number, string>();
  try {
    // One drive-access key for the call's drives (their SID keys, throwaway owner keys).
    await withOneDak(deps, (deps) =>
      mapLimit(driveIDs, deps.parallel, async (id) => {
        try {
          await eraseDrive(deps, getDrive(deps.store, id), false);
        } catch (err) {
          failed.set(id, (err as Error).message);
        }
      }),
    );
  } finally {
    for (const id of driveIDs) deps.work.liveCallErases.delete(id);
  }
  // The erase is done; a key server that can't destroy now is retried later.
  await destroyPendingKeys(deps).catch((err) =>
    deps.logger?.warn({ err: (err as Error).message }, 'hardware EAR work failed'),
  );
  return failed;
}

/**
 * One drive, journaled `erasing`. Up to the revert a failure leaves the drive as it was
 * (journal dropped); a revert whose outcome is unknown keeps the journal for recovery.
 * `byRecovery`: finishing an erase after a restart, which also makes the drive available
 * again (for a live call, DriveService does).
 */
async function eraseDrive(deps: EarDeps, d: DriveRecord, byRecovery: boolean): Promise<void> {
  let revertAttempted = false;
  try {
    if (d.security !== 'none' && d.security !== 'enabled' && d.security !== 'failed')
      throw new EraseRefused(`drive security is ${d.security}`);
    let sidKeyID = sidKeyOf(d);
    if (!sidKeyID) {
      if (d.driveSecurityFaultReason !== 'none') throw new EraseRefused(d.driveSecurityFaultReason);
      sidKeyID = await ownWithThrowawayKey(deps, d);
    }
    const pin = await loadAk(deps, sidKeyID);
    const opal = deps.openDrive(d);
    try {
      const status = await opal.status();
      checkAnswering(status);
      const { lockingEnabled } = status;
      // Before the revert: with what a restart needs to tell whether it reached the drive.
      await deps.store.transaction((tx) => {
        const now = getDrive(tx, d.driveID);
        putDrive(tx, { ...now, step: 'erasing', erase: { sidKeyID, lockingEnabled } });
      });
      crashPoint('erase.afterJournal');
      revertAttempted = true;
      await opal.revertTper(Buffer.from(pin));
    } finally {
      pin.fill(0);
    }
  } catch (err) {
    // Refused (a TCG status is the drive's answer): nothing changed, the journal goes. A
    // live call reports any failure before the revert was sent the same way; a revert
    // failing otherwise may have reached the drive, and recovery retries what it could
    // not do yet (a key server or drive out of reach) until the erase is finished.
    const refused = err instanceof EraseRefused || err instanceof OpalStatusError;
    if (refused || (!revertAttempted && !byRecovery))
      await dropEraseJournal(deps, d.driveID, byRecovery);
    throw err;
  }
  crashPoint('erase.afterRevert');
  await recordDriveErased(deps, d.driveID, byRecovery);
  crashPoint('erase.afterRecord');
}

/**
 * The drive is in factory state: its keys go (an AK at a key server is destroyed there by
 * destroyPendingKeys) and its record says so, journal closed, in one transaction.
 */
async function recordDriveErased(
  deps: EarDeps,
  driveID: number,
  byRecovery: boolean,
): Promise<void> {
  await deps.store.transaction((tx) => {
    const now = getDrive(tx, driveID);
    discardDriveKeys(tx, now, 'its drive was crypto-erased');
    recordAuditIn(tx, {
      source: 'service',
      action: 'SecureEraseDrive',
      params: { driveID: now.driveID, serial: now.serial, keyID: now.keyID },
      outcome: 'ok',
      details: byRecovery
        ? 'crypto-erased by REVERT_TPR as SID; finished after a restart'
        : 'crypto-erased by REVERT_TPR as SID',
    });
    putDrive(tx, {
      ...withoutEraseJournal(now),
      ...(byRecovery ? { status: 'available' as const } : {}),
      security: 'none',
      step: null,
      keyID: null,
      keyProviderID: null,
      ownerKeyID: null,
      driveSecurityFaultReason: 'none',
    });
  });
  deps.logger?.info({ driveID }, 'drive crypto-erased');
}

/** The erase did not reach the drive: it keeps its keys and data, as before the call. */
async function dropEraseJournal(
  deps: EarDeps,
  driveID: number,
  byRecovery: boolean,
): Promise<void> {
  await deps.store.transaction((tx) => {
    const now = getDrive(tx, driveID);
    putDrive(tx, {
      ...withoutEraseJournal(now),
      ...(byRecovery ? { status: 'available' as const } : {}),
      step: null,
    });
  });
}

/**
 * Erases a previous process journaled (step `erasing`; their async results are already
 * failed): each is finished, so no record goes on naming a key its drive no longer has.
 * A drive or key server out of reach keeps its journal; the retry comes back to it.
 */
export async function finishInterruptedErases(deps: EarDeps): Promise<void> {
  const drives = deps.scope
    .drives(deps.store)
    .filter((d) => d.present && d.step === 'erasing' && !deps.work.liveCallErases.has(d.driveID));
  if (drives.length === 0) return;
  await withOneDak(deps, (deps) =>
    mapLimit(drives, deps.parallel, async (d) => {
      try {
        await finishInterruptedErase(deps, d);
      } catch (err) {
        deps.logger?.warn(
          { driveID: d.driveID, err: (err as Error).message },
          'interrupted erase not finished yet',
        );
      }
    }),
  );
  await destroyPendingKeys(deps);
}

async function finishInterruptedErase(deps: EarDeps, d: DriveRecord): Promise<void> {
  const opal = deps.openDrive(d);
  const evidence = revertEvidence(d.erase, await opal.status());
  deps.logger?.info({ driveID: d.driveID, evidence }, 'finishing an interrupted erase');
  if (evidence === 'reverted') return recordDriveErased(deps, d.driveID, true);
  // Not sent: the drive still holds the key it had; the erase starts over (the operator
  // asked for it) and settles, unless something is out of reach (then retried).
  if (evidence === 'notSent') return eraseDrive(deps, d, true);
  const pin = await loadAk(deps, d.erase!.sidKeyID);
  let refused: string | undefined;
  try {
    refused = await finishUnknownRevert(opal, pin);
  } finally {
    pin.fill(0);
  }
  if (refused === undefined) return recordDriveErased(deps, d.driveID, true);
  deps.logger?.warn({ driveID: d.driveID, reason: refused }, 'erase not finished');
  await recordOwnedElsewhere(deps, d.driveID, refused);
}

/**
 * The drive refused both its recorded SID key and MSID: someone else owns it. None of
 * our keys is of use to it any more, so they go, and the drive shows why (PSID revert).
 */
async function recordOwnedElsewhere(deps: EarDeps, driveID: number, reason: string): Promise<void> {
  await deps.store.transaction((tx) => {
    const now = getDrive(tx, driveID);
    discardDriveKeys(tx, now, 'its drive refused it and is owned elsewhere');
    putDrive(tx, {
      ...withoutEraseJournal(now),
      status: 'available',
      security: 'failed',
      step: null,
      keyID: null,
      keyProviderID: null,
      ownerKeyID: null,
      driveSecurityFaultReason: reason,
    });
  });
}

/**
 * Owns a factory-fresh drive (SID at MSID) with a sealed throwaway key, recorded as its
 * owner key before the drive sees it, so that it can be reverted. Returns that keyID.
 */
async function ownWithThrowawayKey(deps: EarDeps, d: DriveRecord): Promise<string> {
  const key = newDriveKey(d.driveID, d.serial);
  try {
    await withNewKeySealing(deps, (where) =>
      deps.store.transaction((tx) => {
        putKeyRecord(tx, keyRecordFor(key, where));
        putDrive(tx, { ...getDrive(tx, d.driveID), ownerKeyID: key.keyID });
      }),
    );
    const refusal = await takeOwnershipOnly(deps.openDrive(d), key.ak);
    if (refusal) {
      await deps.store.transaction((tx) => {
        markKeyDestroyed(tx, key.keyID);
        putDrive(tx, {
          ...getDrive(tx, d.driveID),
          ownerKeyID: null,
          driveSecurityFaultReason: refusal,
        });
      });
      throw new EraseRefused(refusal);
    }
    return key.keyID;
  } finally {
    key.ak.fill(0);
  }
}

/**
 * The key that is the drive's SID PIN: its AK (a rekey moves SID's PIN to it), else its
 * owner key. An enabled drive that still names an owner key was rekeyed by an older ekmd,
 * which moved Admin1's PIN only.
 */
function sidKeyOf(d: DriveRecord): string | null {
  if (d.security === 'enabled' && d.ownerKeyID) return d.ownerKeyID;
  return d.keyID ?? d.ownerKeyID;
}

/** The record without the erase journal (present only while an erase is unsettled). */
function withoutEraseJournal(d: DriveRecord): DriveRecord {
  const copy = { ...d };
  delete copy.erase;
  return copy;
}
