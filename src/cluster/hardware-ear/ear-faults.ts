// Cluster faults of hardware EAR, derived from the drive records after each round of work:
// enableDriveSecurityFailed lists the drives Enable (or AddDrives) could not secure, while
// EAR is enabling or enabled; disableDriveSecurityFailed the drives Disable could not open,
// while EAR is disabling. Recomputed every time, so a later success or a change of EAR
// state resolves them.
import type { FaultService } from '../faults';
import type { Store } from '../../store/store';
import type { DriveRecord } from '../drives/drive-records';
import type { NodeScope } from '../drives/node-scope';
import { getEar } from '../ear-state';

/** driveSecurityFaultReason of a drive Disable could not open starts with this. */
export const DISABLE_FAILED_PREFIX = 'disable: ';

/** Per node: each node reports its own drives under its nodeID. */
export async function reportEarFaults(
  store: Store,
  faults: FaultService,
  scope: NodeScope,
): Promise<void> {
  const nodeID = scope.nodeID(store);
  if (nodeID === undefined) return; // not in the cluster: no drives of its own
  const { state } = getEar(store);
  const drives = scope.drives(store).filter((d) => d.present);
  const enableFailed =
    state === 'enabling' || state === 'enabled'
      ? drives.filter((d) => d.security === 'failed')
      : [];
  const disableFailed =
    state === 'disabling'
      ? drives.filter((d) => d.driveSecurityFaultReason.startsWith(DISABLE_FAILED_PREFIX))
      : [];
  await raiseOrResolve(faults, nodeID, 'enableDriveSecurityFailed', 'enable', enableFailed);
  await raiseOrResolve(faults, nodeID, 'disableDriveSecurityFailed', 'disable', disableFailed);
}

/** The fault `code` raised with the drives that failed, or resolved when none did. */
async function raiseOrResolve(
  faults: FaultService,
  nodeID: number,
  code: 'enableDriveSecurityFailed' | 'disableDriveSecurityFailed',
  action: string,
  failed: DriveRecord[],
): Promise<void> {
  if (failed.length === 0) {
    await faults.resolve(code, { nodeID });
    return;
  }
  // Reasons are the drive's own driveSecurityFaultReason (ListDrives shows it): no secrets.
  const reasons = failed
    .map(
      (d) => `drive ${d.driveID}: ${d.driveSecurityFaultReason.replace(DISABLE_FAILED_PREFIX, '')}`,
    )
    .join('; ');
  const details = `Node ID ${nodeID} has ${failed.length} drive(s) that failed to ${action} drive security (${reasons}).`;
  await faults.raise(code, { nodeID }, details, {
    driveIDs: failed.map((d) => d.driveID),
  });
}
