// The fault matrix: every cell, in the order the table prints them. `ci` marks the subset
// the test suite runs; `npm run reliability` runs them all.
import type { Cell } from './cell';
import { crashCell, ENABLE_CRASH_POINTS } from './cells/crash';
import { ERASE_CRASH_POINTS, eraseCrashCell } from './cells/erase-crash';
import { REKEY_CRASH_POINTS, rekeyCrashCell } from './cells/rekey-crash';
import { driveIoErrors, unplugReplug, wrongKey } from './cells/drives';
import { eksDownAtBoot, eksDownMidRun, eksSlow } from './cells/key-server-down';
import { failover, keyDestroyed, untrustedImpostor } from './cells/key-servers';
import { expiringClientCert, noClientAuth, untrustedCaConfig } from './cells/pykmip';
import { secondEkmd, stateDirFull, storeCorrupted } from './cells/state';

export const CELLS: Cell[] = [
  eksDownAtBoot,
  eksDownMidRun,
  eksSlow,
  failover,
  untrustedImpostor,
  untrustedCaConfig,
  expiringClientCert,
  noClientAuth,
  keyDestroyed,
  wrongKey,
  unplugReplug,
  driveIoErrors,
  stateDirFull,
  storeCorrupted,
  ...ENABLE_CRASH_POINTS.map((p) => crashCell(p, p === 'ear.afterTakeOwnership')),
  ...REKEY_CRASH_POINTS.map((p) => rekeyCrashCell(p, p === 'sear.afterNewKey')),
  ...ERASE_CRASH_POINTS.map((p) => eraseCrashCell(p)),
  secondEkmd,
];

export { MatrixRun } from './runner';
export { formatTable } from './table';
export type { Cell, CellResult } from './cell';
