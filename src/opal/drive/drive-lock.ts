// One lock per (transport, drive path): multi-step flows (take ownership, activate, set
// up ranges, unlock + verify + save) never interleave on one drive, whichever OpalDrive
// object runs them.
import { InFlightLimit } from '../../util/in-flight-limit';
import type { DriveTransport } from '../transport';

const locks = new WeakMap<DriveTransport, Map<string, InFlightLimit>>();

export function driveLock(transport: DriveTransport, path: string): InFlightLimit {
  let byPath = locks.get(transport);
  if (!byPath) locks.set(transport, (byPath = new Map()));
  let lock = byPath.get(path);
  if (!lock) byPath.set(path, (lock = new InFlightLimit(1)));
  return lock;
}
