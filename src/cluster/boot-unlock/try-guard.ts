// The TryLimit guard. sed-opal cannot read a drive's Tries counter without a key, so a key
// the drive refused is remembered here, per drive, with the key's identity and the boot it
// was refused in: that key is never offered to that drive again until the key changes or
// the machine boots again (a new boot_id). Persisted, so a daemon restart does not retry;
// a refusal met before the store opened waits in early-guards.ts's file until it is.
import { readFileSync } from 'node:fs';
import type { Json, Store, StoreReader, StoreTx } from '../../store/store';
import type { DriveKeyRecord } from '../drive-keys/drive-keys';
import { bootIDOverride } from '../test-hooks';

export const GUARD_PREFIX = 'boot-unlock/guard/';

export interface TryGuard {
  keyID: string;
  kmipUID: string | null;
  keyCheckValue: string;
  bootID: string;
  refusedAt: string;
}

export const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

/** This boot's id; '' where the kernel offers none (a guard then lasts until the key changes). */
export function readBootID(file = BOOT_ID_FILE): string {
  const override = bootIDOverride();
  if (override !== undefined) return override;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

const guardKey = (driveID: number): string => `${GUARD_PREFIX}${driveID}`;

/** The key a guard names: its identity and its key check value. */
export type GuardedKey = Pick<DriveKeyRecord, 'keyID' | 'kmipUID' | 'keyCheckValue'>;

/** True when `guard` holds `key` back during the boot `bootID`. */
export function guardHolds(
  guard: Pick<TryGuard, 'keyID' | 'keyCheckValue' | 'bootID'>,
  key: Pick<GuardedKey, 'keyID' | 'keyCheckValue'>,
  bootID: string,
): boolean {
  return (
    guard.bootID === bootID &&
    guard.keyID === key.keyID &&
    guard.keyCheckValue === key.keyCheckValue
  );
}

/** True when this key was refused by this drive during this boot. */
export function isGuarded(
  store: StoreReader,
  driveID: number,
  key: DriveKeyRecord,
  bootID: string,
): boolean {
  const g = store.get<TryGuard>(guardKey(driveID))?.value;
  return !!g && guardHolds(g, key, bootID);
}

/** The guard of a key refused now, during the boot `bootID`. */
export function guardOf(key: GuardedKey, bootID: string): TryGuard {
  return {
    keyID: key.keyID,
    kmipUID: key.kmipUID,
    keyCheckValue: key.keyCheckValue,
    bootID,
    refusedAt: new Date().toISOString(),
  };
}

export async function recordRefusal(
  store: Store,
  driveID: number,
  key: GuardedKey,
  bootID: string,
): Promise<void> {
  await store.put(guardKey(driveID), guardOf(key, bootID) as unknown as Json);
}

/** Records a guard met elsewhere (before the store opened) inside the caller's transaction. */
export function putGuardIn(tx: StoreTx, driveID: number, guard: TryGuard): void {
  tx.put(guardKey(driveID), guard as unknown as Json);
}

export async function clearGuard(store: Store, driveID: number): Promise<void> {
  if (store.get(guardKey(driveID))) await store.delete(guardKey(driveID));
}

/** Drops the guard of a drive inside the caller's transaction; true when there was one. */
export function releaseGuardIn(tx: StoreTx, driveID: number): boolean {
  if (!tx.get(guardKey(driveID))) return false;
  tx.delete(guardKey(driveID));
  return true;
}
