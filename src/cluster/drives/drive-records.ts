// Store layout of drives: one record per drive ever seen, keyed by a driveID that is never
// reused (cluster-wide), matched to the inventory by serial, and owned by the node that
// sees it (nodeID). The record holds Element's status and type
// and the drive's hardware-encryption state (which key unlocks it, and how far
// provisioning got) so that a restart can resume or roll back.
import type { Json, StoreTx, StoreReader } from '../../store/store';
import { ElementError } from '../errors';

export const DRIVE_PREFIX = 'drives/records/';
const NEXT_DRIVE_ID = 'drives/nextID';

export type DriveStatus = 'available' | 'active' | 'erasing' | 'failed' | 'removing';
export type DriveType = 'volume' | 'block' | 'unknown';

/**
 * none: not under hardware EAR. provisioning: a key is recorded, the drive may be part-way
 * set up. enabled: locked by its key. disabling: locking being turned off. failed: see
 * driveSecurityFaultReason.
 */
export type DriveSecurity = 'none' | 'provisioning' | 'enabled' | 'disabling' | 'failed';

/**
 * recorded: the drive is untouched; owning: TAKE_OWNERSHIP (or, for a drive with an owner
 * key, the change of SID's PIN to the AK) may have reached the drive; sidRekeyed: a drive
 * with an owner key whose SID PIN is the AK, Admin1's PIN maybe not yet.
 */
export type ProvisioningStep = 'recorded' | 'owning' | 'sidRekeyed';

/**
 * The journal of a drive's work that must survive a crash: provisioning, or `erasing`, set
 * with status `erasing` by SecureEraseDrives before anything reaches the drive and cleared
 * once the drive's records say it is erased (or that it was not).
 */
export type DriveStep = ProvisioningStep | 'erasing';

/**
 * Written (step `erasing`) just before REVERT_TPR is sent, so that a restart can tell whether
 * it reached the drive. The keys to destroy afterwards are the record's keyID and ownerKeyID
 * (their key records hold the KMIP UIDs).
 */
export interface EraseJournal {
  /** The key presented as SID. */
  sidKeyID: string;
  /**
   * The Locking SP was active then: a revert leaves it inactive, so a status showing it
   * inactive proves the revert happened. False: status cannot tell (see
   * hardware-ear/drive-revert.ts).
   */
  lockingEnabled: boolean;
}

export interface DriveRecord {
  driveID: number;
  /**
   * The node whose inventory holds the drive: only that node works on the record. Absent
   * in records written before drives carried their node: those are node 1's (driveNodeID).
   */
  nodeID?: number;
  serial: string;
  /** What the DriveTransport opens. */
  path: string;
  model: string;
  capacity: number;
  slot: number;
  present: boolean;
  opal: boolean;
  status: DriveStatus;
  type: DriveType;
  security: DriveSecurity;
  step: DriveStep | null;
  /** Only while an erase is about to revert the drive, or may have (see EraseJournal). */
  erase?: EraseJournal;
  keyID: string | null;
  keyProviderID: number | null;
  /**
   * After DisableEncryptionAtRest: the sealed internal key that is still the drive's SID
   * and Admin1 PIN (the kernel cannot revert those without erasing), for a later Enable,
   * which moves both PINs to the new AK and then lets this key go.
   */
  ownerKeyID: string | null;
  driveSecurityFaultReason: string;
  driveFailureDetail: string | null;
}

/** The nodeID of a single node, and of records written before drives carried their node. */
export const SINGLE_NODE_ID = 1;

/** A record's node (see DriveRecord.nodeID). */
export const driveNodeID = (d: DriveRecord): number => d.nodeID ?? SINGLE_NODE_ID;

export const driveKey = (id: number): string => `${DRIVE_PREFIX}${id}`;

export function nextDriveID(tx: StoreTx): number {
  const id = (tx.get<number>(NEXT_DRIVE_ID)?.value ?? 0) + 1;
  tx.put(NEXT_DRIVE_ID, id);
  return id;
}

export function getDrive(tx: StoreReader, driveID: number): DriveRecord {
  const entry = tx.get<DriveRecord>(driveKey(driveID));
  if (!entry) throw new ElementError('xDriveIDDoesNotExist', `Drive ${driveID} does not exist`);
  return entry.value;
}

export function putDrive(tx: StoreTx, record: DriveRecord): void {
  tx.put(driveKey(record.driveID), record as unknown as Json);
}

export function listDriveRecords(tx: StoreReader): DriveRecord[] {
  return tx
    .list<DriveRecord>(DRIVE_PREFIX)
    .map((e) => e.value)
    .sort((a, b) => a.driveID - b.driveID);
}

/** Usable space after the metadata reserve a block service keeps (ours: 1%). */
const usable = (capacity: number): number => Math.floor(capacity * 0.99);

/** Element's drive object (ListDrives), with every member the SolidFire SDK requires. */
export function driveView(d: DriveRecord): { [k: string]: Json } {
  return {
    attributes: {},
    capacity: d.capacity,
    chassisSlot: String(d.slot),
    ...(d.driveFailureDetail ? { driveFailureDetail: d.driveFailureDetail } : {}),
    driveID: d.driveID,
    driveSecurityFaultReason: d.driveSecurityFaultReason,
    ...(d.keyID ? { keyID: d.keyID } : {}),
    ...(d.keyProviderID !== null ? { keyProviderID: d.keyProviderID } : {}),
    nodeID: driveNodeID(d),
    segmentFileSize: usable(d.capacity),
    serial: d.serial,
    slot: d.slot,
    status: d.status,
    type: d.type,
    usableCapacity: usable(d.capacity),
  };
}
