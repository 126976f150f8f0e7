// Drive authentication keys (AKs) and their records under keys/<keyID>. An AK is 32
// random bytes; the record keeps where it lives (the KMIP UID at a provider, or the AK
// sealed under the node's sealing root when there is no provider) and a key check value
// that binds it to its drive, so a wrong or swapped key never reaches a drive.
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Json, StoreTx, StoreReader } from '../../store/store';
import { KEY_REFERENCE_PREFIX, type KeyReferenceState } from '../key-references';
import type { Sealer } from '../sealer';

export const AK_BYTES = 32;

export interface DriveKeyRecord {
  keyID: string;
  keyProviderID: number | null;
  state: KeyReferenceState;
  purpose: 'driveAuthentication';
  driveID: number;
  serial: string;
  /** The object at the key server; null for an internal key. */
  kmipUID: string | null;
  /** base64 of the sealed AK; null for a key held at a key server. */
  sealedKey: string | null;
  /** 'dak': sealed under the split drive-access key too (internal-sealing.ts). */
  sealing?: 'dak';
  /** hex HMAC-SHA256 under the AK of the drive's serial. */
  keyCheckValue: string;
  createTime: string;
}

/** A fresh AK for a drive; the caller zeroes `ak` once the drive and key server have it. */
export interface NewDriveKey {
  driveID: number;
  serial: string;
  keyID: string;
  ak: Buffer;
}

export function newDriveKey(driveID: number, serial: string): NewDriveKey {
  return { driveID, serial, keyID: randomUUID(), ak: randomBytes(AK_BYTES) };
}

export function keyCheckValue(ak: Buffer, serial: string): string {
  return createHmac('sha256', ak).update(`ekmd drive AK check|${serial}`).digest('hex');
}

export function checkMatches(
  ak: Buffer,
  record: Pick<DriveKeyRecord, 'keyCheckValue' | 'serial'>,
): boolean {
  const expected = Buffer.from(record.keyCheckValue, 'hex');
  const actual = Buffer.from(keyCheckValue(ak, record.serial), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

export const keyRecordKey = (keyID: string): string => `${KEY_REFERENCE_PREFIX}${keyID}`;
export const sealLabel = (keyID: string): string => `keys/${keyID}/driveAuthenticationKey`;

export function getKeyRecord(tx: StoreReader, keyID: string): DriveKeyRecord | undefined {
  return tx.get<DriveKeyRecord>(keyRecordKey(keyID))?.value;
}

export function putKeyRecord(tx: StoreTx, record: DriveKeyRecord): void {
  tx.put(keyRecordKey(record.keyID), record as unknown as Json);
}

export function keyRecordFor(
  key: NewDriveKey,
  /** kmipUID null: recorded before Register, so a crash cannot leave an unknown key. */
  where: { keyProviderID: number; kmipUID: string | null } | { sealer: Sealer; sealing?: 'dak' },
): DriveKeyRecord {
  const internal = 'sealer' in where;
  const record: DriveKeyRecord = {
    keyID: key.keyID,
    keyProviderID: internal ? null : where.keyProviderID,
    state: 'live',
    purpose: 'driveAuthentication',
    driveID: key.driveID,
    serial: key.serial,
    kmipUID: internal ? null : where.kmipUID,
    sealedKey: internal ? where.sealer.seal(key.ak, sealLabel(key.keyID)).toString('base64') : null,
    keyCheckValue: keyCheckValue(key.ak, key.serial),
    createTime: new Date().toISOString(),
  };
  if (internal && where.sealing) record.sealing = where.sealing;
  return record;
}

/** The KMIP UIDs of the records held at a provider, grouped by provider in first-seen order. */
export function uidsByProvider(records: Iterable<DriveKeyRecord>): Map<number, string[]> {
  const uids = new Map<number, string[]>();
  for (const r of records) {
    if (r.keyProviderID === null || !r.kmipUID) continue;
    const group = uids.get(r.keyProviderID);
    if (group) group.push(r.kmipUID);
    else uids.set(r.keyProviderID, [r.kmipUID]);
  }
  return uids;
}
