// The cluster's hardware EAR state (GetClusterInfo.encryptionAtRestState) and the
// provider its AKs come from. Element's values, lowercase as every client expects.
import type { Json, StoreTx, StoreReader } from '../store/store';
import { CLUSTER_KEY } from './cluster-info';
import { ElementError } from './errors';

const EAR_KEY = 'ear/hardware';
/** What a watch of the hardware-EAR state's record takes. */
export const EAR_STATE_PREFIX = EAR_KEY;

export type EarState = 'disabled' | 'enabling' | 'enabled' | 'disabling';

export interface EarRecord {
  state: EarState;
  keyProviderID: number | null;
  since: string;
}

export function getEar(tx: StoreReader): EarRecord {
  return tx.get<EarRecord>(EAR_KEY)?.value ?? { state: 'disabled', keyProviderID: null, since: '' };
}

export function putEar(tx: StoreTx, state: EarState, keyProviderID: number | null): void {
  const record: EarRecord = { state, keyProviderID, since: new Date().toISOString() };
  tx.put(EAR_KEY, record as unknown as Json);
}

export function clusterUuid(tx: StoreReader): string {
  const entry = tx.get<{ uuid: string }>(CLUSTER_KEY);
  if (!entry) {
    throw new ElementError(
      'xClusterNotCreated',
      'This node is not part of a cluster yet; call CreateCluster.',
    );
  }
  return entry.value.uuid;
}

export function softwareEarEnabled(tx: StoreReader): boolean {
  const entry = tx.get<{ enableSoftwareEncryptionAtRest?: boolean }>(CLUSTER_KEY);
  return entry?.value.enableSoftwareEncryptionAtRest === true;
}
