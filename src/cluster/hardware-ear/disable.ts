// DisableEncryptionAtRest: `disabling`, then every secured drive is unlocked with locking
// turned off (drive-locking.ts). The drive keeps its PIN, which lives on as a sealed
// internal owner key (the kernel cannot bring SID back to MSID without erasing), and its
// old key is destroyed. A drive that could not be opened keeps `disabling` (and
// a disableDriveSecurityFailed fault); the retry comes back to it.
import { randomUUID } from 'node:crypto';
import { getKeyRecord, keyRecordFor, putKeyRecord } from '../drive-keys/drive-keys';
import { withNewKeySealing, type InternalSealing } from '../drive-keys/internal-sealing';
import { loadAks, zeroAll } from '../drive-keys/key-source';
import { getDrive, putDrive, type DriveRecord } from '../drives/drive-records';
import { getEar, putEar } from '../ear-state';
import { ElementError } from '../errors';
import { mapLimit } from '../../util/map-limit';
import { writeInChunks } from '../store-chunks';
import { moveSidPin, unlockAndDisableLocking } from './drive-locking';
import { loadAk, withOneDak, type EarDeps } from './ear-deps';
import { DISABLE_FAILED_PREFIX } from './ear-faults';
import { auditEarReached, logEarReached } from './ear-summary';
import { destroyPendingKeys, markKeyDestroyed } from './key-retirement';
import { clearNodeProgress, nodeReached, nodesBehind, recordNodeReached } from './node-progress';

/** DisableEncryptionAtRest's check, then `disabling`; finishDisable does the drives. */
export async function beginDisable(deps: EarDeps): Promise<void> {
  await deps.store.transaction((tx) => {
    const ear = getEar(tx);
    if (ear.state !== 'enabled') {
      throw new ElementError(
        'xEncryptionAtRestNotEnabled',
        `Encryption at rest is ${ear.state}; it can only be disabled once enabled.`,
      );
    }
    clearNodeProgress(tx);
    putEar(tx, 'disabling', ear.keyProviderID);
  });
  deps.logger?.info('disabling hardware encryption at rest');
}

/**
 * This node's part of Disable: opens every secured drive of its own for good, then, once none
 * is left `disabling`, records that it is done and, when every active node is
 * (node-progress.ts), `disabled`.
 */
export async function finishDisable(deps: EarDeps): Promise<void> {
  const self = deps.scope.nodeID(deps.store);
  if (self === undefined) return; // not in the cluster: no drive of its own
  if (!nodeReached(deps.store, self, 'disabled')) await disableOwnDrives(deps);
  if (deps.scope.drives(deps.store).some((d) => d.security === 'disabling')) return; // retried
  const outcome = await deps.store.transaction((tx) => {
    const ear = getEar(tx);
    if (ear.state !== 'disabling') return 'moved on';
    if (!nodeReached(tx, self, 'disabled')) recordNodeReached(tx, self, 'disabled');
    const behind = nodesBehind(tx, 'disabled');
    if (behind.length) return behind;
    putEar(tx, 'disabled', null);
    auditEarReached(tx, 'EncryptionAtRestDisabled', ear.keyProviderID);
    return 'reached';
  });
  if (outcome === 'reached') {
    logEarReached(deps.store, deps.logger, 'hardware encryption at rest disabled');
  } else if (Array.isArray(outcome)) {
    deps.logger?.info(
      { nodeID: self, waitingFor: outcome },
      "this node's drives opened; encryption at rest stays disabling until these nodes' are",
    );
  }
}

/** Opens this node's secured drives; those that could not be opened stay `disabling`. */
async function disableOwnDrives(deps: EarDeps): Promise<void> {
  // A drive being erased is left to its erase, which destroys its AK.
  const drives = deps.scope
    .drives(deps.store)
    .filter(
      (d) =>
        d.keyID && d.step !== 'erasing' && (d.security === 'enabled' || d.security === 'disabling'),
    );
  await writeInChunks(deps.store, drives, 1, (tx, d) =>
    putDrive(tx, { ...getDrive(tx, d.driveID), security: 'disabling' }),
  );
  await withOneDak(deps, (deps) => openDrives(deps, drives));
  // Still `disabling`: retried.
  if (deps.scope.drives(deps.store).some((d) => d.security === 'disabling')) return;
  await destroyPendingKeys(deps);
}

/**
 * Each drive unlocked with locking off and its AK kept as its owner key; a drive that
 * could not be opened gets the reason. Run in one DAK batch: the AKs' opening and the
 * owner keys' sealing share one drive-access key.
 */
async function openDrives(deps: EarDeps, drives: DriveRecord[]): Promise<void> {
  const aks = await loadAks(
    deps,
    drives.map((d) => d.keyID!),
  );
  try {
    await mapLimit(drives, deps.parallel, async (d) => {
      const ak = aks.get(d.keyID!)!;
      try {
        if (ak instanceof Error) throw ak;
        await unlockAndDisableLocking(deps.openDrive(d), ak);
        if (d.ownerKeyID) await moveSidOffOwnerKey(deps, d, ak);
        await keepAkAsSealedOwnerKey(deps, d.driveID, ak);
      } catch (err) {
        await deps.store.transaction((tx) => {
          putDrive(tx, {
            ...getDrive(tx, d.driveID),
            driveSecurityFaultReason: `${DISABLE_FAILED_PREFIX}${(err as Error).message}`,
          });
        });
        deps.logger?.warn(
          { driveID: d.driveID, err: (err as Error).message },
          'disableDriveSecurityFailed',
        );
      }
    });
  } finally {
    zeroAll(aks);
  }
}

/**
 * A drive rekeyed before SID's PIN moved with Admin1's (so recorded by an older ekmd) still
 * has its owner key as SID PIN: SID takes the AK before that key goes. A retry may find
 * it moved already.
 */
async function moveSidOffOwnerKey(deps: EarDeps, d: DriveRecord, ak: Buffer): Promise<void> {
  const owner = await loadAk(deps, d.ownerKeyID!);
  try {
    await moveSidPin(deps.openDrive(d), owner, ak, true);
  } finally {
    owner.fill(0);
  }
}

/**
 * The opened drive keeps its AK as PIN: that AK is recorded again as a sealed internal key
 * under a new keyID, the drive's owner key (a later Enable rekeys from it), while the old
 * key record becomes pendingDestroy (destroyPendingKeys destroys it at its provider, or drops
 * it when sealed). The drive is no longer secured.
 */
async function keepAkAsSealedOwnerKey(deps: EarDeps, driveID: number, ak: Buffer): Promise<void> {
  await withNewKeySealing(deps, (where) => keepOwnerKeyIn(deps, driveID, ak, where));
}

async function keepOwnerKeyIn(
  deps: EarDeps,
  driveID: number,
  ak: Buffer,
  where: InternalSealing,
): Promise<void> {
  await deps.store.transaction((tx) => {
    const d = getDrive(tx, driveID);
    const old = getKeyRecord(tx, d.keyID!)!;
    const owner = keyRecordFor(
      { driveID: d.driveID, serial: d.serial, keyID: randomUUID(), ak },
      where,
    );
    putKeyRecord(tx, owner);
    putKeyRecord(tx, { ...old, state: 'pendingDestroy' });
    if (d.ownerKeyID) markKeyDestroyed(tx, d.ownerKeyID);
    putDrive(tx, {
      ...d,
      security: 'none',
      keyID: null,
      keyProviderID: null,
      ownerKeyID: owner.keyID,
      driveSecurityFaultReason: 'none',
    });
  });
}
