// Every record cluster code seals into the store, and how to seal it again under another
// key: a new CSK generation (RemoveNodes), or the first one (a cluster that had none).
// A kind of sealed record added elsewhere must be added here, or a rotation leaves it
// under the old generation.
import type { Json, StoreEntry, StoreReader } from '../../store/store';
import { sealLabel as akSealLabel, type DriveKeyRecord } from '../drive-keys/drive-keys';
import { KEY_PAIR_KEY, SEAL_LABEL as KEY_PAIR_LABEL, type KeyPairRecord } from '../key-pair';
import { KEY_REFERENCE_PREFIX } from '../key-references';
import { mkSealLabel, type MasterKeyRecord } from '../sear/sear-store';

/** One sealed blob in a record: where it is and how to put a re-sealed one back. */
export interface SealedBlob {
  key: string;
  label: string;
  sealed: string;
  /** The record with `sealed` in place of the blob. */
  with(sealed: string): Json;
}

export function sealedBlobs(reader: StoreReader): SealedBlob[] {
  const blobs: SealedBlob[] = [];
  const pair = reader.get<KeyPairRecord>(KEY_PAIR_KEY);
  if (pair) {
    const value = pair.value;
    blobs.push({
      key: KEY_PAIR_KEY,
      label: KEY_PAIR_LABEL,
      sealed: value.sealedPrivateKey,
      with: (sealedPrivateKey) => ({ ...value, sealedPrivateKey }) as unknown as Json,
    });
  }
  for (const entry of reader.list<DriveKeyRecord | MasterKeyRecord>(KEY_REFERENCE_PREFIX)) {
    const blob = keyBlob(entry);
    if (blob) blobs.push(blob);
  }
  return blobs;
}

function keyBlob(entry: StoreEntry<DriveKeyRecord | MasterKeyRecord>): SealedBlob | undefined {
  const value = entry.value;
  if (typeof value.sealedKey !== 'string') return undefined;
  const label =
    value.purpose === 'driveAuthentication'
      ? akSealLabel(value.keyID)
      : value.purpose === 'searMasterKey'
        ? mkSealLabel(value.keyID)
        : undefined;
  if (!label) return undefined;
  return {
    key: entry.key,
    label,
    sealed: value.sealedKey,
    with: (sealedKey) => ({ ...value, sealedKey }) as unknown as Json,
  };
}
