// EnableEncryptionAtRest at the level of EAR's state: the checks and `enabling`, which
// drives get provisioned (provision.ts does their keys and the drives), and when `enabling`
// becomes `enabled`. Also the drives secured later under enabled EAR: those AddDrives adds,
// and those the operator releases after they refused to be taken over.
import { getProvider } from '../key-servers/kmip-records';
import { openProvider } from '../drive-keys/kmip-keys';
import { getDrive, listDriveRecords, putDrive, type DriveRecord } from '../drives/drive-records';
import { clusterUuid, getEar, putEar } from '../ear-state';
import { ElementError } from '../errors';
import { activeNodes } from '../nodes/node-records';
import { newSplitKeyIn, SplitKeyError } from '../split-key/split-key';
import { splitKeyState, THRESHOLD } from '../split-key/split-key-records';
import { crashPoint } from '../test-hooks';
import type { StoreTx } from '../../store/store';
import { withOneDak, type EarDeps } from './ear-deps';
import { auditEarReached, logEarReached } from './ear-summary';
import { destroyPendingKeys } from './key-retirement';
import { clearNodeProgress, nodeReached, nodesBehind, recordNodeReached } from './node-progress';
import { KEY_SERVER_FAILED_PREFIX, provisionDrives, resumeProvisioning } from './provision';

/**
 * Drives that Enable and AddDrives provision, one attempt per call: those never touched,
 * and those failed because the key server refused their AK before the drive saw any PIN.
 * A drive that refused a PIN (owned elsewhere, say) is not tried again, even after the
 * operator may have reverted it: nothing the kernel reports tells a reverted drive from
 * one still owned, and presenting the MSID again to the latter burns a second try.
 */
function mayProvision(d: DriveRecord): boolean {
  if (d.step === 'erasing') return false; // its erase comes first
  if (d.security === 'none') return d.driveSecurityFaultReason === 'none';
  return (
    d.security === 'failed' &&
    d.keyID === null &&
    d.driveSecurityFaultReason.startsWith(KEY_SERVER_FAILED_PREFIX)
  );
}

/** A drive left unsecured because it refused a PIN of ours: only the operator may retry it. */
function refusedOwnership(d: DriveRecord): boolean {
  return (
    d.security !== 'enabled' &&
    d.keyID === null &&
    d.step === null &&
    d.driveSecurityFaultReason !== 'none' &&
    !d.driveSecurityFaultReason.startsWith(KEY_SERVER_FAILED_PREFIX)
  );
}

/**
 * EnableEncryptionAtRest's checks, then `enabling`; finishEnable does the drives. Throws,
 * changing nothing, when EAR is not disabled, the provider cannot be reached or a present
 * drive cannot encrypt.
 */
export async function beginEnable(deps: EarDeps, keyProviderID: number | undefined): Promise<void> {
  await deps.store.transaction((tx) => {
    const uuid = clusterUuid(tx);
    const { state } = getEar(tx);
    if (state !== 'disabled') {
      throw new ElementError(
        'xEncryptionAtRestNotDisabled',
        `Encryption at rest is ${state}; it can only be enabled from disabled.`,
      );
    }
    if (keyProviderID !== undefined) {
      getProvider(tx, keyProviderID);
      openProvider(tx, deps.keyPair, keyProviderID, deps.kmip).close();
    }
    const plain = listDriveRecords(tx).find((d) => d.present && !d.opal);
    if (plain) {
      throw new ElementError(
        'xEncryptionNotAllowed',
        `Encryption not allowed. Cluster detected non-encryptable drive ${plain.driveID}.`,
      );
    }
    if (keyProviderID === undefined) splitDakIn(tx, deps, uuid);
    clearNodeProgress(tx);
    putEar(tx, 'enabling', keyProviderID ?? null);
  });
  deps.logger?.info({ keyProviderID }, 'enabling hardware encryption at rest');
}

/**
 * Without a key provider on a shared store of two nodes or more, the drive-access key is
 * split across the active nodes (once: a later Enable keeps the split there is), so that
 * the internal AKs the nodes seal under it take two nodes to open. Elsewhere (one node,
 * SQLite) internal AKs stay under the cluster sealer alone.
 */
function splitDakIn(tx: StoreTx, deps: EarDeps, uuid: string): void {
  if (!deps.dak || splitKeyState(tx)) return;
  const nodes = activeNodes(tx);
  if (nodes.length < THRESHOLD) return;
  try {
    newSplitKeyIn(tx, nodes, uuid).fill(0);
  } catch (err) {
    if (!(err instanceof SplitKeyError)) throw err;
    throw new ElementError(
      'xDriveAccessKeyNotSplit',
      `The internal drive key cannot be split across the nodes: ${err.message}.`,
    );
  }
}

/**
 * This node's part of Enable: provisions every drive of its own that may be, then records
 * that it is done and, when every active node is (node-progress.ts), `enabled`. While a drive
 * is still `provisioning` (its key or drive out of reach) nothing is recorded and the retry
 * comes back. Also run by a node that joined under `enabled`.
 */
export async function finishEnable(deps: EarDeps): Promise<void> {
  const self = deps.scope.nodeID(deps.store);
  if (self === undefined) return; // not in the cluster: no drive of its own
  if (!nodeReached(deps.store, self, 'enabled')) {
    const { keyProviderID } = getEar(deps.store);
    // Resumed and new drives share one drive-access key.
    await withOneDak(deps, async (deps) => {
      await resumeProvisioning(deps);
      const fresh = deps.scope
        .drives(deps.store)
        .filter((d) => d.present && d.opal && mayProvision(d))
        .map((d) => d.driveID);
      await provisionDrives(deps, fresh, keyProviderID);
    });
    await destroyPendingKeys(deps);
    if (deps.scope.drives(deps.store).some((d) => d.security === 'provisioning')) return;
    crashPoint('ear.afterEnable');
  }
  const outcome = await deps.store.transaction((tx) => {
    const ear = getEar(tx);
    if (ear.state !== 'enabling' && ear.state !== 'enabled') return 'moved on';
    if (!nodeReached(tx, self, 'enabled')) recordNodeReached(tx, self, 'enabled');
    if (ear.state === 'enabled') return 'joined';
    const behind = nodesBehind(tx, 'enabled');
    if (behind.length) return behind;
    putEar(tx, 'enabled', ear.keyProviderID);
    auditEarReached(tx, 'EncryptionAtRestEnabled', ear.keyProviderID);
    return 'reached';
  });
  if (outcome === 'reached') {
    logEarReached(deps.store, deps.logger, 'hardware encryption at rest enabled');
  } else if (outcome === 'joined') {
    deps.logger?.info({ nodeID: self }, "this node's drives secured under enabled EAR");
  } else if (Array.isArray(outcome)) {
    deps.logger?.info(
      { nodeID: self, waitingFor: outcome },
      "this node's drives secured; encryption at rest stays enabling until these nodes' are",
    );
  }
}

/**
 * AddDrives under enabled EAR (`keyProviderID` is EAR's): the drives that may be are
 * provisioned. Returns the drives left unsecured, with the reason.
 */
export async function secureAddedDrives(
  deps: EarDeps,
  driveIDs: number[],
  keyProviderID: number | null,
): Promise<Map<number, string>> {
  // A drive that refused ownership is never tried again (its tries are not ours to burn).
  const pending = driveIDs.filter((id) => mayProvision(getDrive(deps.store, id)));
  await provisionDrives(deps, pending, keyProviderID);
  const notSecured = new Map<number, string>();
  for (const id of driveIDs) {
    const d = getDrive(deps.store, id);
    if (d.security !== 'enabled') notSecured.set(id, d.driveSecurityFaultReason);
  }
  return notSecured;
}

/**
 * Forgets the refusal of those drives that refused to be taken over, so that they may be
 * provisioned again; the others are left as they are. Returns the drives released. Throws,
 * changing nothing, when a drive ID is unknown.
 */
export function forgetOwnershipRefusals(deps: EarDeps, driveIDs: number[]): Promise<number[]> {
  return deps.store.transaction((tx) => {
    const drives = driveIDs.map((id) => deps.scope.ownDrive(tx, id)); // all exist, or no change
    return drives.filter(refusedOwnership).map((d) => {
      putDrive(tx, { ...d, security: 'none', driveSecurityFaultReason: 'none' });
      return d.driveID;
    });
  });
}
