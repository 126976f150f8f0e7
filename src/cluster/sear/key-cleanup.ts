// Keys SEAR no longer needs, destroyed at their key servers: MKs a rekey replaced or rolled
// back (pendingDestroy: one Revoke+Destroy message per provider), MKs kept for an offline
// node's DEKs (retiring) once no DEK names them any more, and the key of a Create
// whose answer a crashed process never recorded (found by its Name). Internal MKs are
// simply forgotten (their sealed copy dropped).
import type { Logger } from 'pino';
import type { Store, StoreReader } from '../../store/store';
import { clusterUuid } from '../ear-state';
import type { AskProvider } from './key-server-requests';
import { destroyExternalKeys, findExternalKeys } from './master-keys';
import { DESTROY } from './rekey';
import { auditMasterKeyDestroyed } from './rekey-outcome';
import {
  deleteJournal,
  getJournal,
  getMasterKey,
  listDeks,
  listMasterKeys,
  putMasterKey,
  retireMasterKey,
} from './sear-store';
import { groupBy } from '../../util/group-by';

/** What a kmipServerFault raised by the search for a crashed Create's key says was asked. */
const CLEAN_UP = 'software encryption rekey clean-up';

/** Old MKs revoked and destroyed, a crashed Create's key found and destroyed. True: retry. */
export async function cleanUpKeys(
  store: Store,
  ask: AskProvider,
  logger?: Logger,
): Promise<boolean> {
  let retry = false;
  await releaseRetiredKeys(store);
  const journal = getJournal(store);
  if (journal?.phase === 'rollingBack' && journal.to.keyProviderID !== undefined) {
    const uuid = clusterUuid(store);
    try {
      const found = await ask(journal.to.keyProviderID, CLEAN_UP, async (p) => {
        const uids = await findExternalKeys(p, uuid, journal.to.keyID);
        const left = await destroyExternalKeys(p, uids);
        if (left.length) throw new Error(`could not destroy ${left.length} unrecorded key(s)`);
        return uids;
      });
      await store.transaction((tx) => {
        deleteJournal(tx);
        for (const kmipUID of found) {
          auditMasterKeyDestroyed(
            tx,
            { keyID: journal.to.keyID, keyProviderID: journal.to.keyProviderID!, kmipUID },
            'made by a rekey whose Create was never recorded',
          );
        }
      });
      logger?.info({ keyID: journal.to.keyID }, 'rekey rolled back at the EKS');
    } catch (err) {
      logger?.warn({ err: (err as Error).message }, 'rekey clean-up deferred');
      retry = true;
    }
  }
  const pending = listMasterKeys(store).filter((k) => k.state === 'pendingDestroy');
  for (const k of pending) {
    if (k.keyProviderID === null)
      await store.transaction((tx) => {
        retireMasterKey(tx, k.keyID);
        auditMasterKeyDestroyed(tx, k, 'no DEK is wrapped by it');
      });
  }
  const external = pending.filter((k) => k.keyProviderID !== null);
  const byProvider = groupBy(external, (k) => k.keyProviderID!);
  for (const [keyProviderID, keys] of byProvider) {
    try {
      const left = await ask(keyProviderID, DESTROY, (p) =>
        destroyExternalKeys(
          p,
          keys.map((k) => k.kmipUID!),
        ),
      );
      await store.transaction((tx) => {
        for (const k of keys) {
          if (left.includes(k.kmipUID!)) continue;
          retireMasterKey(tx, k.keyID);
          auditMasterKeyDestroyed(tx, k, 'no DEK is wrapped by it');
        }
      });
      logger?.info({ keyProviderID, count: keys.length }, 'old master keys destroyed');
      retry ||= left.length > 0;
    } catch (err) {
      logger?.warn({ keyProviderID, err: (err as Error).message }, 'master key destroy deferred');
      retry = true;
    }
  }
  return retry;
}

/** MKs kept for offline nodes' DEKs (`retiring`) that no DEK names any more: on their way out. */
async function releaseRetiredKeys(store: Store): Promise<void> {
  const unused = (tx: StoreReader) => {
    const named = new Set(listDeks(tx).flatMap((d) => [d.keyID, d.next?.keyID]));
    return listMasterKeys(tx).filter((k) => k.state === 'retiring' && !named.has(k.keyID));
  };
  if (unused(store).length === 0) return;
  await store.transaction((tx) => {
    for (const k of unused(tx)) {
      if (k.keyProviderID !== null)
        putMasterKey(tx, { ...getMasterKey(tx, k.keyID)!, state: 'pendingDestroy' });
      else {
        retireMasterKey(tx, k.keyID);
        auditMasterKeyDestroyed(tx, k, 'every DEK it wrapped is re-wrapped by the current key');
      }
    }
  });
}
