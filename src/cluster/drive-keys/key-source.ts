// Where AKs come from when a drive needs one again (resume, disable): one batched Get per
// provider, or the sealed copy for internal keys. Every AK is checked against its key
// check value before it may reach a drive.
import type { Logger } from 'pino';
import type { Store } from '../../store/store';
import type { ClusterKeyPair } from '../key-pair';
import type { Sealer } from '../sealer';
import type { DakAccess } from '../split-key/dak-access';
import { checkMatches, getKeyRecord, sealLabel, type DriveKeyRecord } from './drive-keys';
import { withInternalOpener } from './internal-sealing';
import { fetchAksFrom, type KmipSettings } from './kmip-keys';
import { groupBy } from '../../util/group-by';

export interface KeySourceDeps {
  store: Store;
  sealer: Sealer;
  keyPair: ClusterKeyPair;
  kmip: KmipSettings;
  /** Given on a shared store: opens internal AKs sealed under the drive-access key. */
  dak?: DakAccess;
  logger?: Logger;
}

/** keyID → AK (the caller zeroes them) or why it could not be had. */
export async function loadAks(
  deps: KeySourceDeps,
  keyIDs: string[],
): Promise<Map<string, Buffer | Error>> {
  const out = new Map<string, Buffer | Error>();
  const external: DriveKeyRecord[] = [];
  const internal: DriveKeyRecord[] = [];
  for (const keyID of keyIDs) {
    const record = getKeyRecord(deps.store, keyID);
    if (!record) out.set(keyID, new Error(`no record of key ${keyID}`));
    else if (record.keyProviderID === null) internal.push(record);
    else external.push(record);
  }
  await withInternalOpener(deps, internal, (open) => {
    for (const r of internal) out.set(r.keyID, unseal(open(r), r));
  });
  const byProvider = groupBy(external, (r) => r.keyProviderID!);
  for (const [keyProviderID, records] of byProvider) {
    let fetched: Map<string, Buffer | Error>;
    try {
      fetched = await fetchAksFrom(
        deps,
        keyProviderID,
        records.map((r) => r.kmipUID!),
      );
    } catch (err) {
      for (const r of records) out.set(r.keyID, err as Error);
      continue;
    }
    for (const r of records) out.set(r.keyID, checked(fetched.get(r.kmipUID!)!, r));
  }
  return out;
}

function unseal(sealer: Sealer | Error, record: DriveKeyRecord): Buffer | Error {
  if (sealer instanceof Error) return sealer;
  try {
    return checked(
      sealer.unseal(Buffer.from(record.sealedKey!, 'base64'), sealLabel(record.keyID)),
      record,
    );
  } catch (err) {
    return err as Error;
  }
}

function checked(ak: Buffer | Error, record: DriveKeyRecord): Buffer | Error {
  if (ak instanceof Error) return ak;
  if (checkMatches(ak, record)) return ak;
  ak.fill(0);
  return new Error(`key ${record.keyID} does not match its key check value`);
}

export function zeroAll(aks: Map<string, Buffer | Error>): void {
  for (const v of aks.values()) if (Buffer.isBuffer(v)) v.fill(0);
}
