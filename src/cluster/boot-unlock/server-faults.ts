// kmipServerFault, one per key server: raised with the cause the server gave (or the
// reason it could not be reached), resolved once it serves again. Servers a request did
// not reach keep the state they had: nothing new is known about them.
import type { StoreTx } from '../../store/store';
import type { FaultService } from '../faults';
import { getServerEntry } from '../kmip-records';

/** keyServerID → why it failed, or null when it served. */
export type ServerOutcomes = Map<number, string | null>;

export function reportServers(tx: StoreTx, faults: FaultService, outcomes: ServerOutcomes): void {
  for (const [keyServerID, cause] of outcomes) {
    const subject = { keyServerID };
    if (cause === null) {
      faults.resolveIn(tx, 'kmipServerFault', subject);
      continue;
    }
    let s;
    try {
      s = getServerEntry(tx, keyServerID).value;
    } catch {
      continue; // deleted meanwhile
    }
    faults.raiseIn(
      tx,
      'kmipServerFault',
      subject,
      `Key server ${s.kmipKeyServerName} (${s.kmipKeyServerHostnames.join(', ')}:${s.kmipKeyServerPort}) of key provider ${s.keyProviderID}: ${cause}`,
      { data: { keyServerID, keyProviderID: s.keyProviderID } },
    );
  }
}

/** Merge `cause` for a server into outcomes: a failure wins over a success. */
export function noteServer(outcomes: ServerOutcomes, keyServerID: number, cause: string | null) {
  const had = outcomes.get(keyServerID);
  if (had === undefined || had === null) outcomes.set(keyServerID, cause);
  else if (cause !== null) outcomes.set(keyServerID, `${had}; ${cause}`);
}
