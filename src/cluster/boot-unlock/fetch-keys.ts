// The AKs of the locked drives: one batched KMIP Get per provider over one connection,
// internal AKs unsealed, each checked against its key check value so a wrong or swapped
// key never reaches a drive. A key server that cannot be had is reported per provider.
import type { Logger } from 'pino';
import type { Store } from '../../store/store';
import type { ClusterKeyPair } from '../key-pair';
import type { Sealer } from '../sealer';
import { checkMatches, sealLabel, type DriveKeyRecord } from '../hardware-ear/drive-keys';
import { fetchAksFrom, type KmipSettings } from '../hardware-ear/kmip-keys';

/** Why a drive has no key this round; `retry`: it may come later (a key server issue). */
export interface KeyFailure {
  reason: string;
  retry: boolean;
}

export interface FetchedKeys {
  /** keyID → AK (the caller zeroes it) or why not. */
  aks: Map<string, Buffer | KeyFailure>;
  /** keyProviderID → why its key servers could not serve the keys; absent when they did. */
  providerErrors: Map<number, string>;
  providersAsked: number[];
}

export interface FetchDeps {
  store: Store;
  sealer: Sealer;
  keyPair: ClusterKeyPair;
  kmip: KmipSettings;
  logger?: Logger;
}

export async function fetchKeys(deps: FetchDeps, records: DriveKeyRecord[]): Promise<FetchedKeys> {
  const out: FetchedKeys = { aks: new Map(), providerErrors: new Map(), providersAsked: [] };
  const byProvider = new Map<number, DriveKeyRecord[]>();
  for (const r of records) {
    if (r.keyProviderID === null) out.aks.set(r.keyID, unseal(deps.sealer, r));
    else byProvider.set(r.keyProviderID, [...(byProvider.get(r.keyProviderID) ?? []), r]);
  }
  for (const [keyProviderID, group] of byProvider) {
    out.providersAsked.push(keyProviderID);
    let fetched: Map<string, Buffer | Error>;
    try {
      fetched = await fetchAksFrom(
        deps,
        keyProviderID,
        group.map((r) => r.kmipUID!),
      );
    } catch (err) {
      const reason = (err as Error).message;
      out.providerErrors.set(keyProviderID, reason);
      for (const r of group) out.aks.set(r.keyID, { reason, retry: true });
      continue;
    }
    const missing: string[] = [];
    for (const r of group) {
      const got = fetched.get(r.kmipUID!)!;
      if (got instanceof Error) {
        missing.push(`${r.kmipUID}: ${got.message}`);
        out.aks.set(r.keyID, {
          reason: `key unavailable at the key server: ${got.message}`,
          retry: true,
        });
      } else out.aks.set(r.keyID, checked(got, r));
    }
    if (missing.length) {
      out.providerErrors.set(
        keyProviderID,
        `${missing.length} key(s) unavailable (${missing.join('; ')})`,
      );
    }
  }
  return out;
}

function unseal(sealer: Sealer, record: DriveKeyRecord): Buffer | KeyFailure {
  try {
    return checked(
      sealer.unseal(Buffer.from(record.sealedKey!, 'base64'), sealLabel(record.keyID)),
      record,
    );
  } catch (err) {
    return { reason: `cannot unseal the key: ${(err as Error).message}`, retry: false };
  }
}

function checked(ak: Buffer, record: DriveKeyRecord): Buffer | KeyFailure {
  if (checkMatches(ak, record)) return ak;
  ak.fill(0);
  return { reason: `key ${record.keyID} does not match its key check value`, retry: false };
}
