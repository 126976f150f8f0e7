// Store layout of KMIP key servers and providers. Records hold only what the operator
// set; what can be derived (a provider's servers, whether it is active) is derived on
// read so it cannot drift. IDs come from counters and are never reused.
import type { Json, StoreEntry, StoreTx, StoreReader } from '../../store/store';
import { doesNotExist } from '../errors';

export const SERVER_PREFIX = 'kmip/servers/';
export const PROVIDER_PREFIX = 'kmip/providers/';
const COUNTER_PREFIX = 'kmip/nextID/';

export interface KeyServerRecord {
  keyServerID: number;
  keyProviderID: number | null;
  kmipKeyServerName: string;
  kmipKeyServerHostnames: string[];
  kmipKeyServerPort: number;
  kmipCaCertificate: string;
  kmipClientCertificate: string;
}

export interface KeyProviderRecord {
  keyProviderID: number;
  keyProviderName: string;
}

export const serverKey = (id: number): string => `${SERVER_PREFIX}${id}`;
export const providerKey = (id: number): string => `${PROVIDER_PREFIX}${id}`;

export function getServerEntry(tx: StoreReader, id: number): StoreEntry<KeyServerRecord> {
  const entry = tx.get<KeyServerRecord>(serverKey(id));
  if (!entry) throw doesNotExist('KeyServer', id);
  return entry;
}

export function getProvider(tx: StoreReader, id: number): KeyProviderRecord {
  const entry = tx.get<KeyProviderRecord>(providerKey(id));
  if (!entry) throw doesNotExist('KeyProvider', id);
  return entry.value;
}

export const byID =
  <T>(id: (r: T) => number) =>
  (a: T, b: T) =>
    id(a) - id(b);

export function listServers(tx: StoreReader): KeyServerRecord[] {
  return tx
    .list<KeyServerRecord>(SERVER_PREFIX)
    .map((e) => e.value)
    .sort(byID((r) => r.keyServerID));
}

export function serversOfProvider(tx: StoreReader, keyProviderID: number): KeyServerRecord[] {
  return listServers(tx).filter((s) => s.keyProviderID === keyProviderID);
}

/** Next ID for `kind`, starting at 1; call inside the transaction that uses it. */
export function nextID(tx: StoreTx, kind: 'servers' | 'providers'): number {
  const key = `${COUNTER_PREFIX}${kind}`;
  const id = (tx.get<number>(key)?.value ?? 0) + 1;
  tx.put(key, id);
  return id;
}

export const asJson = (record: KeyServerRecord | KeyProviderRecord): Json =>
  record as unknown as Json;
