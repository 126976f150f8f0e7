// Cluster faults of hardware EAR, derived from the drive records after each round of work:
// enableDriveSecurityFailed lists the drives Enable (or AddDrives) could not secure, while
// EAR is enabling or enabled; disableDriveSecurityFailed the drives Disable could not open,
// while EAR is disabling. Recomputed every time, so a later success or a change of EAR
// state resolves them.
import type { FaultService } from '../faults';
import type { Store } from '../../store/store';
import { listDriveRecords, type DriveRecord } from '../drives/drive-records';
import { getEar } from '../ear-state';

/** driveSecurityFaultReason of a drive Disable could not open starts with this. */
export const DISABLE_FAILED_PREFIX = 'disable: ';

/** ekmd runs one node per cluster; its drives report nodeID 1 (see driveView). */
const NODE_ID = 1;

export async function reportEarFaults(store: Store, faults: FaultService): Promise<void> {
  const { state } = getEar(store);
  const drives = listDriveRecords(store).filter((d) => d.present);
  const enableFailed =
    state === 'enabling' || state === 'enabled'
      ? drives.filter((d) => d.security === 'failed')
      : [];
  const disableFailed =
    state === 'disabling'
      ? drives.filter((d) => d.driveSecurityFaultReason.startsWith(DISABLE_FAILED_PREFIX))
      : [];
  await raiseOrResolve(faults, 'enableDriveSecurityFailed', 'enable', enableFailed);
  await raiseOrResolve(faults, 'disableDriveSecurityFailed', 'disable', disableFailed);
}

/** The fault `code` raised with the drives that failed, or resolved when none did. */
async function raiseOrResolve(
  faults: FaultService,
  code: 'enableDriveSecurityFailed' | 'disableDriveSecurityFailed',
  action: string,
  failed: DriveRecord[],
): Promise<void> {
  if (failed.length === 0) {
    await faults.resolve(code, { nodeID: NODE_ID });
    return;
  }
  // Reasons are the drive's own driveSecurityFaultReason (ListDrives shows it): no secrets.
  const reasons = failed
    .map(
      (d) => `drive ${d.driveID}: ${d.driveSecurityFaultReason.replace(DISABLE_FAILED_PREFIX, '')}`,
    )
    .join('; ');
  const details = `Node ID ${NODE_ID} has ${failed.length} drive(s) that failed to ${action} drive security (${reasons}).`;
  await faults.raise(code, { nodeID: NODE_ID }, details, {
    driveIDs: failed.map((d) => d.driveID),
  });
}
