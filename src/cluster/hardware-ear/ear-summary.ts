// How an Enable or Disable ended: the audit record of the state reached and the log line,
// both counting the present drives by their security state.
import type { Logger } from 'pino';
import type { Store, StoreTx, StoreReader } from '../../store/store';
import { recordAuditIn } from '../audit';
import { listDriveRecords } from '../drives/drive-records';

function countBySecurity(tx: StoreReader): { enabled: number; failed: number; none: number } {
  const drives = listDriveRecords(tx).filter((d) => d.present);
  const count = (s: string) => drives.filter((d) => d.security === s).length;
  return { enabled: count('enabled'), failed: count('failed'), none: count('none') };
}

/** Audited in the transaction that records the state reached. */
export function auditEarReached(
  tx: StoreTx,
  action: 'EncryptionAtRestEnabled' | 'EncryptionAtRestDisabled',
  keyProviderID: number | null,
): void {
  recordAuditIn(tx, {
    source: 'service',
    action,
    params: { keyProviderID, ...countBySecurity(tx) },
    outcome: 'ok',
  });
}

export function logEarReached(store: Store, logger: Logger | undefined, message: string): void {
  logger?.info(countBySecurity(store), message);
}
