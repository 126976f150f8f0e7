// Which drives a round works on: the candidates (present, under hardware EAR, with a key,
// not being erased), those of them whose status reads locked, and of those the ones to try
// (their key on record, not held back by the TryLimit guard). The records come from one
// listing per kind (drives, keys, guards) per round, not a store read per drive. A drive
// whose status reads locked stays open (OpalDrive.hold) until its unlock is over: one open
// for its status, unlock and save.
import type { Logger } from 'pino';
import type { OpalDrive } from '../../opal/drive';
import type { StoreReader } from '../../store/store';
import type { InFlightLimit } from '../../util/in-flight-limit';
import type { DriveKeyRecord } from '../drive-keys/drive-keys';
import type { DriveRecord } from '../drives/drive-records';
import type { NodeScope } from '../drives/node-scope';
import { KEY_REFERENCE_PREFIX } from '../key-references';
import type { KeyFailure } from './fetch-keys';
import type { FailDrive } from './round-result';
import { GUARD_PREFIX, guardHolds, type TryGuard } from './try-guard';

/** A drive under hardware EAR with the record of its key. */
export interface KeyedDrive {
  drive: DriveRecord;
  key: DriveKeyRecord;
}

/** A locked drive to unlock, its key, and the drive opened (held) for the attempt. */
export interface DriveToTry extends KeyedDrive {
  opal: OpalDrive;
}

/** What a round reads of the store, read once. */
export interface RoundRecords {
  /** Present, under hardware EAR, with a key, not being erased; by driveID. */
  candidates: DriveRecord[];
  /** keyID → its record. */
  keys: ReadonlyMap<string, DriveKeyRecord>;
  /** driveID → its TryLimit guard. */
  guards: ReadonlyMap<number, TryGuard>;
}

export interface DriveScanDeps {
  /** This node's drives: the only ones its rounds unlock and ask keys for. */
  scope: NodeScope;
  openDrive: (drive: DriveRecord) => OpalDrive;
  inFlight: InFlightLimit;
  /** This boot's id, for the TryLimit guard. */
  bootID: string;
  logger?: Logger;
}

/** `scope`: whose drives (this node's: a node asks only for its own drives' keys). */
export function readRoundRecords(store: StoreReader, scope: NodeScope): RoundRecords {
  const keys = new Map<string, DriveKeyRecord>();
  for (const { value } of store.list<DriveKeyRecord>(KEY_REFERENCE_PREFIX)) {
    if (value.purpose === 'driveAuthentication') keys.set(value.keyID, value);
  }
  const guards = new Map<number, TryGuard>();
  for (const { key, value } of store.list<TryGuard>(GUARD_PREFIX)) {
    guards.set(Number(key.slice(GUARD_PREFIX.length)), value);
  }
  // A drive being erased is not unlocked: its AK is on its way out (a revert may race).
  const candidates = scope
    .drives(store)
    .filter((d) => d.present && d.security === 'enabled' && d.keyID && d.step !== 'erasing');
  return { candidates, keys, guards };
}

/** The drives a round looks at (see RoundRecords.candidates). */
export function candidateDrives(store: StoreReader, scope: NodeScope): DriveRecord[] {
  return readRoundRecords(store, scope).candidates;
}

/** The candidates whose key is held at a key provider, with their key records. */
export function candidateKeys(store: StoreReader, scope: NodeScope): KeyedDrive[] {
  return externallyKeyed(readRoundRecords(store, scope));
}

export function externallyKeyed(records: RoundRecords): KeyedDrive[] {
  return keyedDrives(records).filter(({ key }) => key.keyProviderID !== null);
}

/** The candidates whose key is on record, with their key records. */
export function keyedDrives(records: RoundRecords): KeyedDrive[] {
  return records.candidates.flatMap((drive) => {
    const key = records.keys.get(drive.keyID!);
    return key ? [{ drive, key }] : [];
  });
}

/**
 * The candidates whose status reads locked and that are to be tried, with their keys, each
 * held open for its attempt (the caller releases them). The others are released here.
 * `decided`: drives an attempt of this boot left locked just now (the early unlock's), not
 * tried again in this round: failed for the same reason.
 */
export async function lockedDrivesToTry(
  deps: DriveScanDeps,
  records: RoundRecords,
  fail: FailDrive,
  decided: ReadonlyMap<number, KeyFailure> = new Map(),
): Promise<DriveToTry[]> {
  const started = performance.now();
  const locked = await readLockedDrives(deps, records.candidates, fail);
  deps.logger?.debug(
    {
      drives: records.candidates.length,
      locked: locked.length,
      ms: Math.round(performance.now() - started),
    },
    'drive status read',
  );
  const toTry: DriveToTry[] = [];
  for (const { drive, opal } of locked) {
    const key = records.keys.get(drive.keyID!);
    const guard = records.guards.get(drive.driveID);
    const earlier = decided.get(drive.driveID);
    if (!key) fail(drive.driveID, { reason: `no record of key ${drive.keyID}`, retry: false });
    else if (earlier) fail(drive.driveID, earlier);
    else if (guard && guardHolds(guard, key, deps.bootID))
      fail(drive.driveID, {
        reason: 'the drive refused its key this boot; not tried again (TryLimit guard)',
        retry: false,
      });
    else {
      toTry.push({ drive, key, opal });
      continue;
    }
    void opal.release().catch(() => undefined);
  }
  return toTry;
}

/** A drive whose status is read: locked or not, and the drive held open when locked. */
export interface StatusRead {
  locked: boolean;
  opal: OpalDrive;
}

/**
 * Opens `opal`, reads its status, and keeps it open when it reads locked (else releases
 * it). A drive under EAR that no longer reports Opal support is answering with errors (the
 * kernel's status is all zeros then): a retryable failure, never read as unlocked.
 */
export async function readHeldStatus(opal: OpalDrive): Promise<StatusRead> {
  try {
    await opal.hold();
    const status = await opal.status();
    if (!status.supported) throw new Error('the drive reports no Opal support (I/O errors?)');
    if (!status.locked) await opal.release();
    return { locked: status.locked, opal };
  } catch (err) {
    await opal.release().catch(() => undefined);
    throw err;
  }
}

/**
 * The candidates whose status reads locked, by driveID, each held open; the status read
 * under the in-flight limit. A drive whose status cannot be read is failed, to be retried.
 */
async function readLockedDrives(
  deps: DriveScanDeps,
  candidates: DriveRecord[],
  fail: FailDrive,
): Promise<{ drive: DriveRecord; opal: OpalDrive }[]> {
  const locked: { drive: DriveRecord; opal: OpalDrive }[] = [];
  await Promise.all(
    candidates.map((drive) =>
      deps.inFlight.run(async () => {
        try {
          const read = await readHeldStatus(deps.openDrive(drive));
          if (read.locked) locked.push({ drive, opal: read.opal });
        } catch (err) {
          fail(drive.driveID, { reason: `status: ${(err as Error).message}`, retry: true });
        }
      }),
    ),
  );
  return locked.sort((a, b) => a.drive.driveID - b.drive.driveID);
}
