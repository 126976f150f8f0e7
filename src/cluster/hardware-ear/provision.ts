// Provisioning drives for hardware EAR, store side: AKs made and registered at the
// provider in one message (or sealed, internal keys), recorded with their drives as
// `provisioning` before any drive is touched, then each drive owned, locked and verified
// (drive-locking.ts) and its outcome recorded. After a crash, resumeProvisioning resumes
// or rolls back every `provisioning` drive; a key is only let go once its drive has proved
// it does not hold it, so no drive is left with a PIN nobody knows.
import { getDrive, putDrive, type DriveRecord } from '../drives/drive-records';
import {
  getKeyRecord,
  keyRecordFor,
  newDriveKey,
  putKeyRecord,
  type DriveKeyRecord,
  type NewDriveKey,
} from '../drive-keys/drive-keys';
import { withNewKeySealing } from '../drive-keys/internal-sealing';
import { loadAks, zeroAll } from '../drive-keys/key-source';
import { registerAks } from '../drive-keys/kmip-keys';
import { clusterUuid } from '../ear-state';
import { crashPoint } from '../test-hooks';
import { mapLimit } from '../../util/map-limit';
import { writeInChunks } from '../store-chunks';
import {
  OWNERSHIP_UNCONFIRMED,
  rekeyAndSecure,
  secureOwnedDrive,
  takeOwnershipAndSecure,
  type Rekey,
  type SecureOutcome,
} from './drive-locking';
import { loadAk, withOneDak, withProvider, type EarDeps } from './ear-deps';
import { destroyAksOfInterruptedRegister, dropOwnerKey, markKeyDestroyed } from './key-retirement';

/** driveSecurityFaultReason of a drive whose AK the key server would not keep. */
export const KEY_SERVER_FAILED_PREFIX = 'key server: ';

type DriveWork = { driveID: number; ak: Buffer };

/**
 * New keys for `driveIDs`, recorded before the drives are touched, then each drive. A key
 * the provider would not register fails its drive (reason KEY_SERVER_FAILED_PREFIX…).
 */
export async function provisionDrives(
  deps: EarDeps,
  driveIDs: number[],
  keyProviderID: number | null,
): Promise<void> {
  if (driveIDs.length === 0) return;
  // The keys' sealing and the owner keys of drives rekeyed from them share one DAK.
  await withOneDak(deps, (deps) => provisionIn(deps, driveIDs, keyProviderID));
}

async function provisionIn(
  deps: EarDeps,
  driveIDs: number[],
  keyProviderID: number | null,
): Promise<void> {
  const drives = driveIDs.map((id) => getDrive(deps.store, id));
  const keys = drives.map((d) => newDriveKey(d.driveID, d.serial));
  try {
    if (keyProviderID !== null) {
      // Known before Register: a crash after it leaves keys a restart can find by Name.
      await writeInChunks(deps.store, keys, 1, (tx, k) =>
        putKeyRecord(tx, keyRecordFor(k, { keyProviderID, kmipUID: null })),
      );
    }
    const records = await registerOrSealKeys(deps, keys, keyProviderID);
    crashPoint('ear.afterRegister');
    // A crash between chunks leaves the rest as keys recorded before Register: a restart
    // destroys those at the server by Name and their drives are provisioned again.
    await writeInChunks(deps.store, keys, 2, (tx, k) => {
      const d = getDrive(tx, k.driveID);
      const r = records.get(k.keyID)!;
      if (typeof r === 'string') {
        markKeyDestroyed(tx, k.keyID);
        putDrive(tx, { ...d, security: 'failed', driveSecurityFaultReason: r });
        return;
      }
      putKeyRecord(tx, r);
      putDrive(tx, {
        ...d,
        security: 'provisioning',
        step: 'recorded',
        keyID: k.keyID,
        keyProviderID,
        driveSecurityFaultReason: 'none',
      });
    });
    crashPoint('ear.afterRecord');
    const recorded = keys.filter((k) => typeof records.get(k.keyID) !== 'string');
    await secureRecordedDrives(
      deps,
      recorded.map((k) => ({ driveID: k.driveID, ak: k.ak })),
    );
  } finally {
    for (const k of keys) k.ak.fill(0);
  }
}

/**
 * Registers the keys at the provider (one message) or, without one, seals them; per keyID
 * the key record to store, or why the provider would not keep it.
 */
async function registerOrSealKeys(
  deps: EarDeps,
  keys: NewDriveKey[],
  keyProviderID: number | null,
): Promise<Map<string, DriveKeyRecord | string>> {
  const out = new Map<string, DriveKeyRecord | string>();
  if (keyProviderID === null) {
    return withNewKeySealing(deps, (where) => {
      for (const k of keys) out.set(k.keyID, keyRecordFor(k, where));
      return out;
    });
  }
  const uuid = clusterUuid(deps.store);
  const registered = await withProvider(deps, keyProviderID, (p) => registerAks(p, uuid, keys));
  for (const k of keys) {
    const r = registered.get(k.keyID)!;
    out.set(
      k.keyID,
      r.ok
        ? keyRecordFor(k, { keyProviderID, kmipUID: r.uid })
        : `${KEY_SERVER_FAILED_PREFIX}${r.reason}`,
    );
  }
  return out;
}

/** Drives recorded as provisioning: mark them `owning`, then own, lock and verify each. */
async function secureRecordedDrives(deps: EarDeps, work: DriveWork[]): Promise<void> {
  await writeInChunks(deps.store, work, 1, (tx, { driveID }) =>
    putDrive(tx, { ...getDrive(tx, driveID), step: 'owning' }),
  );
  await secureEachDrive(deps, work, async ({ driveID, ak }) => {
    const d = getDrive(deps.store, driveID);
    if (!d.ownerKeyID) return takeOwnershipAndSecure(deps.openDrive(d), ak);
    return rekeyFromOwnerKey(deps, d, ak, undefined);
  });
}

/**
 * A drive owned since an earlier Disable: its PINs go from the sealed owner key to the AK
 * (drive-locking.ts), the step between the two recorded. `resumedAt`: the step a previous
 * process left it at.
 */
async function rekeyFromOwnerKey(
  deps: EarDeps,
  d: DriveRecord,
  ak: Buffer,
  resumedAt: Rekey['resumedAt'],
): Promise<SecureOutcome> {
  const owner = await loadAk(deps, d.ownerKeyID!);
  const sidRekeyed = () =>
    deps.store.transaction((tx) => {
      putDrive(tx, { ...getDrive(tx, d.driveID), step: 'sidRekeyed' });
    });
  try {
    return await rekeyAndSecure(deps.openDrive(d), owner, ak, {
      sidRekeyed,
      ...(resumedAt ? { resumedAt } : {}),
    });
  } finally {
    owner.fill(0);
  }
}

/** Every `provisioning` drive from an earlier process: resume it, or roll it back. */
export async function resumeProvisioning(deps: EarDeps): Promise<void> {
  await destroyAksOfInterruptedRegister(deps);
  const drives = deps.scope.drives(deps.store).filter((d) => d.security === 'provisioning');
  if (drives.length === 0) return;
  await withOneDak(deps, (deps) => resumeDrives(deps, drives));
}

async function resumeDrives(deps: EarDeps, drives: DriveRecord[]): Promise<void> {
  const aks = await loadAks(
    deps,
    drives.map((d) => d.keyID!),
  );
  try {
    const ready = drives.filter((d) => Buffer.isBuffer(aks.get(d.keyID!)));
    for (const d of drives.filter((x) => !ready.includes(x))) {
      deps.logger?.warn(
        { driveID: d.driveID, err: (aks.get(d.keyID!) as Error).message },
        'provisioning drive waits for its key',
      );
    }
    const untouched = ready.filter((d) => d.step === 'recorded');
    await secureRecordedDrives(
      deps,
      untouched.map((d) => ({ driveID: d.driveID, ak: aks.get(d.keyID!) as Buffer })),
    );
    // TAKE_OWNERSHIP may or may not have reached these: a refusal of the AK proves it did
    // not. A rekey from an owner key resumes at its recorded step.
    const touched = ready.filter((d) => d.step === 'owning' || d.step === 'sidRekeyed');
    await secureEachDrive(
      deps,
      touched.map((d) => ({ driveID: d.driveID, ak: aks.get(d.keyID!) as Buffer })),
      ({ driveID, ak }) => {
        const d = getDrive(deps.store, driveID);
        const at = d.step === 'sidRekeyed' ? 'sidRekeyed' : 'owning';
        if (d.ownerKeyID) return rekeyFromOwnerKey(deps, d, ak, at);
        return secureOwnedDrive(deps.openDrive(d), ak, OWNERSHIP_UNCONFIRMED);
      },
    );
  } finally {
    zeroAll(aks);
  }
}

/** Runs `secure` on each drive (a few at a time) and records each outcome as it comes. */
async function secureEachDrive(
  deps: EarDeps,
  work: DriveWork[],
  secure: (w: DriveWork) => Promise<SecureOutcome>,
): Promise<void> {
  await mapLimit(work, deps.parallel, async (w) => {
    let outcome: SecureOutcome;
    try {
      outcome = await secure(w);
    } catch (err) {
      outcome = { kind: 'failed', reason: (err as Error).message };
    }
    await recordSecureOutcome(deps, w.driveID, outcome);
  });
}

/** The drive's record ends its provisioning: enabled, or failed (see SecureOutcome). */
async function recordSecureOutcome(
  deps: EarDeps,
  driveID: number,
  outcome: SecureOutcome,
): Promise<void> {
  await deps.store.transaction((tx) => {
    const d = getDrive(tx, driveID);
    if (outcome.kind === 'enabled') {
      // Both PINs are the AK now: an owner key it was rekeyed from is of no use any more.
      if (d.ownerKeyID) dropOwnerKey(tx, d.ownerKeyID, 'its drive was rekeyed to a new AK');
      putDrive(tx, {
        ...d,
        security: 'enabled',
        step: null,
        ownerKeyID: null,
        driveSecurityFaultReason: 'none',
      });
      return;
    }
    const key = d.keyID ? getKeyRecord(tx, d.keyID) : undefined;
    // Refused: the drive does not hold the key, so it may go; failed: keep it.
    if (outcome.kind === 'refused' && key) putKeyRecord(tx, { ...key, state: 'pendingDestroy' });
    putDrive(tx, {
      ...d,
      security: 'failed',
      step: null,
      ...(outcome.kind === 'refused' ? { keyID: null, keyProviderID: null } : {}),
      driveSecurityFaultReason: outcome.reason,
    });
  });
  const log = deps.logger;
  if (outcome.kind === 'enabled') log?.info({ driveID }, 'drive security enabled');
  else log?.warn({ driveID, reason: outcome.reason }, 'enableDriveSecurityFailed');
}
