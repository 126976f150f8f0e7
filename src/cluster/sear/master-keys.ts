// Master keys. Internal: 32 random bytes sealed under the node's sealing root. External:
// an AES-256 Symmetric Key created at the provider (Create, then Activate and Get in one
// message: PyKMIP's Activate needs a Unique Identifier, so the ID placeholder cannot
// join them) under a Name that carries the cluster uuid and keyID, so a key created by a
// process that died before recording it can be found and destroyed.
import { randomBytes } from 'node:crypto';
import { KmipError, ops, type FetchedObject, type KmipProvider } from '../../kmip/client';
import { ResultReason } from '../../kmip/ttlv';
import type { Sealer } from '../sealer';
import { clusterGroup } from '../drive-keys/kmip-keys';
import { MK_BYTES } from './key-wrap';
import { mkSealLabel, type MasterKeyRecord } from './sear-store';

export const mkName = (clusterUuid: string, keyID: string): string =>
  `ekmd-MK cluster=${clusterUuid} keyID=${keyID}`;

/** A new internal MK: its record (sealed) and the key itself (the caller zeroes it). */
export function newInternalKey(
  sealer: Sealer,
  keyID: string,
): { record: MasterKeyRecord; mk: Buffer } {
  const mk = randomBytes(MK_BYTES);
  let sealedKey: string;
  try {
    sealedKey = sealer.seal(mk, mkSealLabel(keyID)).toString('base64');
  } catch (err) {
    mk.fill(0);
    throw err;
  }
  return {
    mk,
    record: {
      keyID,
      keyProviderID: null,
      state: 'live',
      purpose: 'searMasterKey',
      kmipUID: null,
      sealedKey,
      createTime: new Date().toISOString(),
    },
  };
}

export function unsealInternalKey(sealer: Sealer, record: MasterKeyRecord): Buffer {
  return sealer.unseal(Buffer.from(record.sealedKey!, 'base64'), mkSealLabel(record.keyID));
}

/** Create at the provider, reporting the UID as soon as it exists (a crash point). */
export async function createExternalKey(
  provider: KmipProvider,
  clusterUuid: string,
  keyID: string,
  created: (uid: string) => Promise<void>,
): Promise<{ uid: string; mk: Buffer }> {
  const { uniqueIdentifier: uid } = await provider.create({
    names: [mkName(clusterUuid, keyID)],
    objectGroups: [clusterGroup(clusterUuid)],
  });
  await created(uid);
  const { results } = await provider.batch([ops.activate(uid), ops.get(uid)] as const);
  const [activated, got] = results;
  if (!activated.ok) {
    if (got.ok) got.value.material.fill(0);
    throw activated.error;
  }
  if (!got.ok) throw got.error;
  return { uid, mk: checkedMaterial(got.value) };
}

/** One Get: the MK's material (the caller zeroes it). */
export async function fetchExternalKey(provider: KmipProvider, uid: string): Promise<Buffer> {
  return checkedMaterial(await provider.get(uid));
}

function checkedMaterial(obj: FetchedObject): Buffer {
  if (obj.material.length !== MK_BYTES) {
    obj.material.fill(0);
    // The server's answer is wrong (a KmipError: it counts against that server).
    throw new KmipError(
      'response',
      `the key server returned a ${obj.material.length}-byte master key`,
    );
  }
  return obj.material;
}

/** The UIDs the provider holds under the MK's Name (a crashed Create). */
export function findExternalKeys(
  provider: KmipProvider,
  clusterUuid: string,
  keyID: string,
): Promise<string[]> {
  return provider.locate({ names: [mkName(clusterUuid, keyID)] });
}

/**
 * Revoke (cessation of operation) and destroy every UID in one message; UIDs not
 * destroyed. A key already gone (Item Not Found) counts as destroyed: a restart may
 * repeat a destroy whose answer was lost.
 */
export async function destroyExternalKeys(
  provider: KmipProvider,
  uids: string[],
): Promise<string[]> {
  if (uids.length === 0) return [];
  const { results } = await provider.batch(uids.flatMap((u) => [ops.revoke(u), ops.destroy(u)]));
  return uids.filter((_, i) => {
    const r = results[2 * i + 1]!;
    return !r.ok && r.error.resultReason !== ResultReason.ItemNotFound;
  });
}
