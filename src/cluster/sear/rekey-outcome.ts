// What a rekey records and answers, apart from its steps (rekey.ts): the audit events'
// parameters (identifiers only, never key bytes), Element's operation text, the result's
// note when nodes were left behind, and the destroyed-key audit the clean-up shares.
import type { Json, StoreTx } from '../../store/store';
import { recordAuditIn } from '../audit';
import { ElementError } from '../errors';
import type { KeyInfo, MasterKeyRecord, RekeyJournal } from './sear-store';

/** The note of a rekey that left nodes behind: the old key is kept for them. */
export function keptFor(keyID: string, nodeIDs: number[]): { [k: string]: Json } {
  return {
    nodesToRewrap: nodeIDs,
    details:
      `Master key ${keyID} is kept until node(s) ${nodeIDs.join(', ')}, offline during the ` +
      'rekey, re-wrap their DEKs to the new key when they return; it is destroyed then.',
  };
}

/** Which key went where: identifiers only. */
export function rekeyParams(journal: RekeyJournal, deks?: number): Record<string, unknown> {
  return {
    asyncHandle: journal.asyncHandle,
    fromKeyID: journal.from.keyID,
    fromKeyProviderID: journal.from.keyProviderID ?? null,
    toKeyID: journal.to.keyID,
    toKeyProviderID: journal.to.keyProviderID ?? null,
    ...(deks === undefined ? {} : { deks }),
  };
}

/** A master key gone (revoked and destroyed, or its sealed copy dropped): never its bytes. */
export function auditMasterKeyDestroyed(
  tx: StoreTx,
  k: Pick<MasterKeyRecord, 'keyID' | 'keyProviderID' | 'kmipUID'>,
  why: string,
): void {
  recordAuditIn(tx, {
    source: 'service',
    action: 'DestroyMasterKey',
    params: { keyID: k.keyID, keyProviderID: k.keyProviderID, kmipUID: k.kmipUID },
    outcome: 'ok',
    details:
      k.keyProviderID === null ? `sealed copy dropped: ${why}` : `revoked and destroyed: ${why}`,
  });
}

/** The handle may have been read and purged already; the rekey's outcome stands. */
export function finishResult(_tx: StoreTx, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ElementError && err.elementName === 'xAsyncHandleDoesNotExist')) throw err;
  }
}

const management = (k: KeyInfo): string =>
  k.keyProviderID === undefined
    ? 'Internal Key Management'
    : `External Key Management with keyProviderID=${k.keyProviderID}`;

/** Element's text, e.g. "… transferred from Internal Key Management to External Key Management with keyProviderID=1". */
export function operationText(from: KeyInfo, to: KeyInfo): string {
  if (management(from) === management(to))
    return `Rekeying Master Key. Master Key management remains with ${management(to)}`;
  return `Rekeying Master Key. Master Key management being transferred from ${management(from)} to ${management(to)}`;
}
