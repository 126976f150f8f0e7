// Keys held at a key server (drive AKs, software-EAR master keys) are recorded under
// keys/<keyID>. A provider is active while any live or pending-destroy key refers to it:
// derived from these records on every read, never a stored flag that can drift.
import type { StoreReader } from '../store/store';

export const KEY_REFERENCE_PREFIX = 'keys/';

/**
 * `retiring`: replaced, but still wrapping some DEK (a SEAR master key whose node was offline
 * during the rekey); destroyed once nothing names it.
 */
export type KeyReferenceState = 'live' | 'retiring' | 'pendingDestroy' | 'destroyed';

/** The part of a key record this module reads; writers may store more members. */
export interface KeyReference {
  keyID: string;
  keyProviderID: number | null;
  state: KeyReferenceState;
}

function holdsProvider(ref: KeyReference): boolean {
  return ref.keyProviderID !== null && ref.state !== 'destroyed';
}

/** IDs of every provider some live or pending-destroy key refers to. */
export function activeProviderIDs(tx: StoreReader): Set<number> {
  const active = new Set<number>();
  for (const { value } of tx.list<KeyReference>(KEY_REFERENCE_PREFIX)) {
    if (holdsProvider(value)) active.add(value.keyProviderID as number);
  }
  return active;
}
