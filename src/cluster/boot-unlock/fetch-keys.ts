// The AKs of the locked drives: one batched KMIP Get per provider over one connection,
// internal AKs unsealed, each checked against its key check value so a wrong or swapped
// key never reaches a drive. What each key server did is reported per server.
import type { Logger } from 'pino';
import type { KmipProvider } from '../../kmip/client';
import type { Store } from '../../store/store';
import type { ClusterKeyPair } from '../key-pair';
import type { Sealer } from '../sealer';
import { checkMatches, sealLabel, type DriveKeyRecord } from '../hardware-ear/drive-keys';
import { fetchAks, type KmipSettings } from '../hardware-ear/kmip-keys';
import { askProvider } from './ask-provider';
import { noteServer, type ServerOutcomes } from './server-faults';

/** Why a drive has no key this round; `retry`: it may come later (a key server issue). */
export interface KeyFailure {
  reason: string;
  retry: boolean;
}

export interface FetchedKeys {
  /** keyID → AK (the caller zeroes it) or why not. */
  aks: Map<string, Buffer | KeyFailure>;
  /** Per key server contacted: null when it served every key, else why not. */
  servers: ServerOutcomes;
  providersAsked: number[];
}

export interface FetchDeps {
  store: Store;
  sealer: Sealer;
  keyPair: ClusterKeyPair;
  kmip: KmipSettings;
  logger?: Logger;
  /** Providers opened ahead (connecting while the drives' status was read); closed by askProvider. */
  opened?: ReadonlyMap<number, KmipProvider>;
}

export async function fetchKeys(deps: FetchDeps, records: DriveKeyRecord[]): Promise<FetchedKeys> {
  const out: FetchedKeys = { aks: new Map(), servers: new Map(), providersAsked: [] };
  const byProvider = new Map<number, DriveKeyRecord[]>();
  for (const r of records) {
    if (r.keyProviderID === null) out.aks.set(r.keyID, unseal(deps.sealer, r));
    else byProvider.set(r.keyProviderID, [...(byProvider.get(r.keyProviderID) ?? []), r]);
  }
  for (const [keyProviderID, group] of byProvider) {
    out.providersAsked.push(keyProviderID);
    const answer = await askProvider(deps, keyProviderID, (p) =>
      fetchAks(
        p,
        group.map((r) => r.kmipUID!),
      ),
    );
    for (const [keyServerID, why] of answer.failed) noteServer(out.servers, keyServerID, why);
    const fetched = answer.value;
    if (!fetched) {
      const reason = answer.error ?? 'no key server answered';
      if (answer.servedBy !== undefined) noteServer(out.servers, answer.servedBy, reason);
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
    if (answer.servedBy !== undefined) {
      noteServer(
        out.servers,
        answer.servedBy,
        missing.length ? `${missing.length} key(s) unavailable (${missing.join('; ')})` : null,
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
