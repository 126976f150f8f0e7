// What a round means for the drive records: a drive left locked shows why in its
// driveFailureDetail and, if it was in use, is `failed` (Element's status for a drive the
// node cannot use); once unlocked the detail clears and it is `active` again.
//
// A metadata (volume) drive still locked after the grace period is failed and moved to
// `available`, as Element does after its 6-minute window: sliceServiceUnhealthy (per slice
// service; ours: one slice service per metadata drive, serviceID = driveID) and
// driveAvailable (per node, listing the drives moved) are raised. Element's recovery:
// once the key is back and the drive unlocked, AddDrives makes it active again and both
// faults resolve. driveAvailable lists only the drives moved here (ours: drives never
// added are the operator's choice, not a fault).
import type { Json, StoreTx } from '../../store/store';
import {
  driveKey,
  driveNodeID,
  getDrive,
  putDrive,
  type DriveRecord,
} from '../drives/drive-records';
import type { FaultService } from '../faults';

const MOVED_PREFIX = 'boot-unlock/metadata-moved/';
/** Starts every driveFailureDetail written here: only those are cleared here. */
const LOCKED = 'Locked: ';
const movedKey = (driveID: number): string => `${MOVED_PREFIX}${driveID}`;

export interface MovedDrive {
  driveID: number;
  movedAt: string;
  reason: string;
}

export interface OutcomeInput {
  /** Every present drive under hardware EAR that the round looked at. */
  candidates: DriveRecord[];
  /** driveID → why it is still locked. */
  failed: Map<number, string>;
  /** driveID → when this process first saw the (metadata) drive locked; kept by the caller. */
  lockedSince: Map<number, number>;
  graceMs: number;
  now: number;
}

/** Writes recordOutcomes makes per drive at most: its record and its moved-metadata mark. */
export const OUTCOME_WRITES = 2;

/**
 * Updates the drive records; returns when the next metadata grace ends, if one is running.
 * The faults of moved metadata drives follow from the records: reportMovedMetadataDrives.
 */
export function recordOutcomes(tx: StoreTx, input: OutcomeInput): number | undefined {
  let nextGraceEnd: number | undefined;
  for (const candidate of input.candidates) {
    const d = getDrive(tx, candidate.driveID);
    const reason = input.failed.get(d.driveID);
    if (reason === undefined) {
      input.lockedSince.delete(d.driveID);
      if (d.driveFailureDetail?.startsWith(LOCKED)) {
        const status = d.status === 'failed' ? 'active' : d.status;
        putDrive(tx, { ...d, status, driveFailureDetail: null });
      }
      continue;
    }
    let next: DriveRecord = { ...d, driveFailureDetail: `${LOCKED}${reason}` };
    if (d.status === 'active') next.status = 'failed';
    if (d.type === 'volume' && (d.status === 'active' || d.status === 'failed')) {
      const since = input.lockedSince.get(d.driveID) ?? input.now;
      input.lockedSince.set(d.driveID, since);
      const graceEnd = since + input.graceMs;
      if (input.now >= graceEnd) {
        next = { ...next, status: 'available', type: 'unknown' };
        const moved: MovedDrive = {
          driveID: d.driveID,
          movedAt: new Date(input.now).toISOString(),
          reason,
        };
        tx.put(movedKey(d.driveID), moved as unknown as Json);
        input.lockedSince.delete(d.driveID);
      } else nextGraceEnd = Math.min(nextGraceEnd ?? graceEnd, graceEnd);
    }
    if (JSON.stringify(next) !== JSON.stringify(d)) putDrive(tx, next);
  }
  return nextGraceEnd;
}

/**
 * sliceServiceUnhealthy and driveAvailable for the metadata drives moved to available:
 * raised while they are not active again, resolved once AddDrives has made them active.
 */
export function reportMovedMetadataDrives(tx: StoreTx, faults: FaultService, nodeID: number): void {
  const waiting: number[] = [];
  for (const { key, value: m } of tx.list<MovedDrive>(MOVED_PREFIX)) {
    const d = tx.get<DriveRecord>(driveKey(m.driveID))?.value;
    if (d && driveNodeID(d) !== nodeID) continue; // another node's, reported there
    const subject = { serviceID: m.driveID, driveID: m.driveID, nodeID };
    if (!d || d.status === 'active' || !d.present) {
      tx.delete(key);
      faults.resolveIn(tx, 'sliceServiceUnhealthy', subject);
      continue;
    }
    if (d.status === 'available') waiting.push(d.driveID);
    const state = d.driveFailureDetail?.startsWith(LOCKED)
      ? `is still locked (${m.reason})`
      : 'is unlocked; add it again with AddDrives';
    faults.raiseIn(
      tx,
      'sliceServiceUnhealthy',
      subject,
      `SolidFire Application cannot communicate with a metadata service. Metadata drive ${m.driveID} was marked failed and moved to available after staying locked; it ${state}.`,
    );
  }
  faults.reportNodeDrivesIn(tx, 'driveAvailable', nodeID, waiting);
}
