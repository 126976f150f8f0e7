// kmipServerFault, one per key server: raised with the cause the server gave (or the
// reason it could not be reached), resolved once it serves again. Servers a request did
// not reach keep the state they had: nothing new is known about them.
// Two parts of ekmd ask the same servers for different keys: boot unlock and its key
// checks (the drives' AKs) and software EAR (the master key). Each one's last finding per
// server is kept in the store, and the fault stands while either found a problem: a master
// key served does not clear a destroyed AK, nor the other way round.
import type { Json, StoreTx } from '../../store/store';
import { readFaults, type FaultService } from '../faults';
import { getServerEntry, listServers } from './kmip-records';

/** keyServerID → why it failed, or null when it served. */
export type ServerOutcomes = Map<number, string | null>;

/** Who asked: the drives' AKs (boot unlock, key checks) or software EAR's master key. */
export type ServerConcern = 'driveKeys' | 'masterKey';
const CONCERNS: ServerConcern[] = ['driveKeys', 'masterKey'];

type Findings = Partial<Record<ServerConcern, string>>;

export const SERVER_FINDINGS_PREFIX = 'kmipServerFindings/';
const findingsKey = (keyServerID: number): string => `${SERVER_FINDINGS_PREFIX}${keyServerID}`;

export function reportServers(
  tx: StoreTx,
  faults: FaultService,
  outcomes: ServerOutcomes,
  concern: ServerConcern,
): void {
  for (const [keyServerID, cause] of outcomes) {
    const key = findingsKey(keyServerID);
    const had = tx.get<Findings>(key)?.value ?? {};
    const findings: Findings = { ...had, [concern]: cause ?? undefined };
    if (cause === null) delete findings[concern];
    const causes = CONCERNS.flatMap((c) => (findings[c] ? [findings[c]] : []));
    const subject = { keyServerID };
    if (causes.length === 0) {
      if (Object.keys(had).length) tx.delete(key);
      faults.resolveIn(tx, 'kmipServerFault', subject);
      continue;
    }
    let s;
    try {
      s = getServerEntry(tx, keyServerID).value;
    } catch {
      continue; // deleted meanwhile
    }
    if (JSON.stringify(findings) !== JSON.stringify(had)) tx.put(key, findings as Json);
    faults.raiseIn(
      tx,
      'kmipServerFault',
      subject,
      `Key server ${s.kmipKeyServerName} (${s.kmipKeyServerHostnames.join(', ')}:${s.kmipKeyServerPort}) of key provider ${s.keyProviderID}: ${causes.join('; ')}`,
      { data: { keyServerID, keyProviderID: s.keyProviderID } },
    );
  }
}

/**
 * Resolves the kmipServerFault of every server no provider holds any more (deleted, or
 * removed from its provider), and forgets its findings: nothing will ask it again, so
 * nothing else would ever resolve its fault.
 */
export function forgetUnusedServers(tx: StoreTx, faults: FaultService): void {
  const inUse = new Set(
    listServers(tx)
      .filter((s) => s.keyProviderID !== null)
      .map((s) => s.keyServerID),
  );
  for (const f of readFaults(tx, 'current')) {
    const keyServerID = f.data?.keyServerID;
    if (f.code !== 'kmipServerFault' || typeof keyServerID !== 'number') continue;
    if (inUse.has(keyServerID)) continue;
    faults.resolveIn(tx, 'kmipServerFault', { keyServerID });
    tx.delete(findingsKey(keyServerID));
  }
}

/** Merge `cause` for a server into outcomes: a failure wins over a success. */
export function noteServer(outcomes: ServerOutcomes, keyServerID: number, cause: string | null) {
  const had = outcomes.get(keyServerID);
  if (had === undefined || had === null) outcomes.set(keyServerID, cause);
  else if (cause !== null) outcomes.set(keyServerID, `${had}; ${cause}`);
}
