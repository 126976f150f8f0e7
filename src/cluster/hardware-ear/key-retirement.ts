// Drive keys no drive needs any more. A sealed key is dropped at once; an AK at a key
// server is first marked pendingDestroy in the same transaction that frees it from its
// drive, and destroyed at the server later (destroyPendingKeys), so that a server out of
// reach never holds up a drive's work. Either way the record stays, in state `destroyed`
// and without the key (who held what, when), and the destruction is audited.
import type { StoreTx } from '../../store/store';
import { recordAuditIn } from '../audit';
import { getKeyRecord, putKeyRecord, type DriveKeyRecord } from '../drive-keys/drive-keys';
import { destroyAks, findAks } from '../drive-keys/kmip-keys';
import type { DriveRecord } from '../drives/drive-records';
import { clusterUuid } from '../ear-state';
import { groupBy } from '../../util/group-by';
import { writeInChunks } from '../store-chunks';
import { withProvider, type EarDeps } from './ear-deps';

/** A key marked destroyed and its audit record (the record and the audit sequence). */
const KEY_DESTROYED_WRITES = 3;

/**
 * Keys pendingDestroy: revoked and destroyed at their provider, in one message each. A
 * provider out of reach sets deps.work.keyDestroyDeferred (the job chain retries).
 */
export async function destroyPendingKeys(deps: EarDeps): Promise<void> {
  const pending = deps.store
    .list<DriveKeyRecord>('keys/')
    .map((e) => e.value)
    .filter((k) => k.purpose === 'driveAuthentication' && k.state === 'pendingDestroy');
  const byProvider = groupBy(pending, (k) => k.keyProviderID);
  deps.work.keyDestroyDeferred = false;
  for (const [keyProviderID, keys] of byProvider) {
    let failed: string[] = [];
    if (keyProviderID !== null) {
      try {
        failed = await withProvider(deps, keyProviderID, (p) =>
          destroyAks(
            p,
            keys.map((k) => k.kmipUID!),
          ),
        );
      } catch (err) {
        deps.logger?.warn({ keyProviderID, err: (err as Error).message }, 'AK destroy deferred');
        deps.work.keyDestroyDeferred = true;
        continue;
      }
    }
    const destroyed = keys.filter((k) => !failed.includes(k.kmipUID ?? ''));
    await writeInChunks(deps.store, destroyed, KEY_DESTROYED_WRITES, (tx, k) => {
      markKeyDestroyed(tx, k.keyID);
      auditAkDestroyed(tx, k, 'no drive holds it any more');
    });
  }
}

/**
 * Keys recorded before a Register whose answer (the KMIP UID) was never recorded, by an
 * Enable a crash interrupted: whatever the server holds under their Names is destroyed (no
 * drive ever saw them), then the records.
 */
export async function destroyAksOfInterruptedRegister(deps: EarDeps): Promise<void> {
  // Only this node's drives' keys: another node may be registering its own right now.
  const own = new Set(deps.scope.drives(deps.store).map((d) => d.driveID));
  const orphans = deps.store
    .list<DriveKeyRecord>('keys/')
    .map((e) => e.value)
    .filter(
      (k) =>
        own.has(k.driveID) &&
        k.keyProviderID !== null &&
        k.kmipUID === null &&
        k.state !== 'destroyed',
    );
  const byProvider = groupBy(orphans, (k) => k.keyProviderID!);
  const uuid = clusterUuid(deps.store);
  for (const [keyProviderID, keys] of byProvider) {
    await withProvider(deps, keyProviderID, async (p) => {
      const failed = await destroyAks(p, await findAks(p, uuid, keys));
      if (failed.length) throw new Error(`could not destroy ${failed.length} unrecorded AK(s)`);
    });
    await writeInChunks(deps.store, keys, KEY_DESTROYED_WRITES, (tx, k) => {
      markKeyDestroyed(tx, k.keyID);
      auditAkDestroyed(tx, k, 'registered by an interrupted Enable, never given to a drive');
    });
    deps.logger?.info({ keyProviderID, count: keys.length }, 'unrecorded AKs destroyed');
  }
}

/**
 * The drive's keys (its AK and owner key), of no use to it any more: an AK at a key server
 * becomes pendingDestroy (destroyPendingKeys destroys it there), a sealed key is dropped
 * at once. The caller clears the drive record's references in the same transaction.
 */
export function discardDriveKeys(tx: StoreTx, d: DriveRecord, why: string): void {
  for (const keyID of [d.keyID, d.ownerKeyID]) {
    const k = keyID ? getKeyRecord(tx, keyID) : undefined;
    if (k?.keyProviderID != null) putKeyRecord(tx, { ...k, state: 'pendingDestroy' });
    else if (k) {
      markKeyDestroyed(tx, k.keyID);
      auditAkDestroyed(tx, k, why);
    }
  }
}

/**
 * A drive's owner key (always sealed) once the drive's PINs have moved to its new AK:
 * dropped and audited. The caller clears the drive record's ownerKeyID in the same transaction.
 */
export function dropOwnerKey(tx: StoreTx, ownerKeyID: string, why: string): void {
  const k = getKeyRecord(tx, ownerKeyID);
  if (!k) return;
  markKeyDestroyed(tx, k.keyID);
  auditAkDestroyed(tx, k, why);
}

/**
 * The record goes to state `destroyed` and loses its sealed copy; it stays, so who held
 * what, when, is still known. For an AK at a key server: once the server no longer holds it.
 */
export function markKeyDestroyed(tx: StoreTx, keyID: string): void {
  const k = getKeyRecord(tx, keyID);
  if (k) putKeyRecord(tx, { ...k, state: 'destroyed', sealedKey: null });
}

/** Where the AK was and for which drive: never the key. */
function auditAkDestroyed(tx: StoreTx, k: DriveKeyRecord, why: string): void {
  recordAuditIn(tx, {
    source: 'service',
    action: 'DestroyAuthenticationKey',
    params: {
      keyID: k.keyID,
      keyProviderID: k.keyProviderID,
      kmipUID: k.kmipUID,
      driveID: k.driveID,
      serial: k.serial,
    },
    outcome: 'ok',
    details:
      k.keyProviderID === null ? `sealed copy dropped: ${why}` : `revoked and destroyed: ${why}`,
  });
}
