// Which drives a round works on: the candidates (present, under hardware EAR, with a key,
// not being erased), those of them whose status reads locked, and of those the ones to try
// (their key on record, not held back by the TryLimit guard).
import type { Logger } from 'pino';
import type { OpalDrive } from '../../opal/drive';
import type { Store } from '../../store/store';
import type { InFlightLimit } from '../../util/in-flight-limit';
import { getKeyRecord, type DriveKeyRecord } from '../drive-keys/drive-keys';
import { listDriveRecords, type DriveRecord } from '../drives/drive-records';
import type { FailDrive } from './round-result';
import { isGuarded } from './try-guard';

/** A locked drive and the key to unlock it with. */
export interface DriveToTry {
  drive: DriveRecord;
  key: DriveKeyRecord;
}

export interface DriveScanDeps {
  store: Store;
  openDrive: (drive: DriveRecord) => OpalDrive;
  inFlight: InFlightLimit;
  /** This boot's id, for the TryLimit guard. */
  bootID: string;
  logger?: Logger;
}

/** The candidates whose status reads locked and that are to be tried, with their keys. */
export async function lockedDrivesToTry(
  deps: DriveScanDeps,
  candidates: DriveRecord[],
  fail: FailDrive,
): Promise<DriveToTry[]> {
  const started = performance.now();
  const locked = await readLockedDrives(deps.openDrive, deps.inFlight, candidates, fail);
  deps.logger?.debug(
    {
      drives: candidates.length,
      locked: locked.length,
      ms: Math.round(performance.now() - started),
    },
    'drive status read',
  );
  return drivesToTry(deps.store, locked, deps.bootID, fail);
}

/**
 * The drives a round looks at: present, under hardware EAR, with a key. A drive being
 * erased is not unlocked: its AK is on its way out (a revert may race).
 */
export function candidateDrives(store: Store): DriveRecord[] {
  return listDriveRecords(store).filter(
    (d) => d.present && d.security === 'enabled' && d.keyID && d.step !== 'erasing',
  );
}

/** The candidates with their key records; drives without one (or with a deleted key) left out. */
export function candidateKeys(store: Store): DriveToTry[] {
  return candidateDrives(store).flatMap((drive) => {
    const key = getKeyRecord(store, drive.keyID!);
    return key && key.keyProviderID !== null ? [{ drive, key }] : [];
  });
}

/**
 * The candidates whose status reads locked, by driveID; the status read under the
 * in-flight limit. A drive whose status cannot be read is failed, to be retried.
 */
async function readLockedDrives(
  openDrive: (drive: DriveRecord) => OpalDrive,
  inFlight: InFlightLimit,
  candidates: DriveRecord[],
  fail: FailDrive,
): Promise<DriveRecord[]> {
  const locked: DriveRecord[] = [];
  await Promise.all(
    candidates.map((d) =>
      inFlight.run(async () => {
        try {
          const status = await openDrive(d).status();
          // A drive under EAR that no longer reports Opal support is answering with
          // errors (the kernel's status is all zeros then): retry, never read it as unlocked.
          if (!status.supported)
            fail(d.driveID, {
              reason: 'status: the drive reports no Opal support (I/O errors?)',
              retry: true,
            });
          else if (status.locked) locked.push(d);
        } catch (err) {
          fail(d.driveID, { reason: `status: ${(err as Error).message}`, retry: true });
        }
      }),
    ),
  );
  return locked.sort((a, b) => a.driveID - b.driveID);
}

/**
 * The locked drives to try, each with its key record. Failed (for good): a drive whose key
 * has no record, and one that refused this key this boot (the TryLimit guard).
 */
function drivesToTry(
  store: Store,
  locked: DriveRecord[],
  bootID: string,
  fail: FailDrive,
): DriveToTry[] {
  const toTry: DriveToTry[] = [];
  for (const drive of locked) {
    const key = getKeyRecord(store, drive.keyID!);
    if (!key) fail(drive.driveID, { reason: `no record of key ${drive.keyID}`, retry: false });
    else if (isGuarded(store, drive.driveID, key, bootID))
      fail(drive.driveID, {
        reason: 'the drive refused its key this boot; not tried again (TryLimit guard)',
        retry: false,
      });
    else toTry.push({ drive, key });
  }
  return toTry;
}
