// Store layout of software encryption at rest (SEAR):
//   sear/state          which master key (MK) is current, the version, the last rekey's handle
//   sear/deks/<serial>  each drive's DEK, wrapped by the MK named in the record, with its node
//   sear/nodes/<nodeID> the MK that wraps every DEK of that node (a marker, node-rewrap.ts)
//   sear/rekey          the journal of a rekey in progress (see rekey.ts)
//   keys/<keyID>        the MK records themselves, beside the drive AKs, so that a provider
//                       holding an MK is active by the same derived rule (key-references.ts)
import type { Json, StoreTx, StoreReader } from '../../store/store';
import { KEY_REFERENCE_PREFIX, type KeyReferenceState } from '../key-references';
import { NodeMarkers } from '../nodes/node-markers';

const STATE_KEY = 'sear/state';
export const DEK_PREFIX = 'sear/deks/';
export const JOURNAL_KEY = 'sear/rekey';
export const SEAR_NODE_PREFIX = 'sear/nodes/';
/** Each node's marker: the MK its own DEKs are all wrapped by (own wrap or `next`). */
export const nodeMarkers = new NodeMarkers(SEAR_NODE_PREFIX);

export interface SearState {
  /** Incremented each time SEAR is enabled (Element's `version`): 1 on a cluster. */
  version: number;
  currentKeyID: string;
  rekeyAsyncResultID: number | null;
}

export interface MasterKeyRecord {
  keyID: string;
  keyProviderID: number | null;
  state: KeyReferenceState;
  purpose: 'searMasterKey';
  /** The Symmetric Key at the provider; never null for an external key (see rekey.ts). */
  kmipUID: string | null;
  /** base64 of the sealed MK; null for an external key or once destroyed. */
  sealedKey: string | null;
  createTime: string;
}

export interface DekRecord {
  serial: string;
  /**
   * The node whose drive it is, which re-wraps it in a rekey. Absent in records written
   * before DEKs carried their node: those are the master's to re-wrap, as are those of a
   * node no longer in the cluster.
   */
  nodeID?: number;
  /** The MK that wraps it. */
  keyID: string;
  /** base64 of the RFC 3394 wrapped DEK. */
  wrapped: string;
  createTime: string;
  /** During a rekey: the same DEK wrapped by the new MK (see rekey.ts). */
  next?: WrappedDek;
}

export interface WrappedDek {
  keyID: string;
  wrapped: string;
}

/** The DEK as wrapped by `keyID`: its own wrap, or a rekey's staged one. */
export function wrappedBy(d: DekRecord, keyID: string): WrappedDek | undefined {
  if (d.keyID === keyID) return d;
  return d.next?.keyID === keyID ? d.next : undefined;
}

export interface KeyInfo {
  keyID: string;
  keyManagementType: 'internal' | 'external';
  keyProviderID?: number;
}

export function getSearState(tx: StoreReader): SearState | undefined {
  return tx.get<SearState>(STATE_KEY)?.value;
}

export function putSearState(tx: StoreTx, state: SearState): void {
  tx.put(STATE_KEY, state as unknown as Json);
}

export const mkKey = (keyID: string): string => `${KEY_REFERENCE_PREFIX}${keyID}`;
export const mkSealLabel = (keyID: string): string => `keys/${keyID}/searMasterKey`;

export function getMasterKey(tx: StoreReader, keyID: string): MasterKeyRecord | undefined {
  const value = tx.get<MasterKeyRecord>(mkKey(keyID))?.value;
  return value?.purpose === 'searMasterKey' ? value : undefined;
}

export function putMasterKey(tx: StoreTx, record: MasterKeyRecord): void {
  tx.put(mkKey(record.keyID), record as unknown as Json);
}

export function listMasterKeys(tx: StoreReader): MasterKeyRecord[] {
  return tx
    .list<MasterKeyRecord>(KEY_REFERENCE_PREFIX)
    .map((e) => e.value)
    .filter((k) => k.purpose === 'searMasterKey');
}

/** The destroyed state keeps the record (which key, where, when) without the key. */
export function retireMasterKey(tx: StoreTx, keyID: string): void {
  const k = getMasterKey(tx, keyID);
  if (k) putMasterKey(tx, { ...k, state: 'destroyed', sealedKey: null });
}

export function keyInfo(k: MasterKeyRecord): KeyInfo {
  return k.keyProviderID === null
    ? { keyID: k.keyID, keyManagementType: 'internal' }
    : { keyID: k.keyID, keyManagementType: 'external', keyProviderID: k.keyProviderID };
}

export const dekKey = (serial: string): string => `${DEK_PREFIX}${serial}`;

export function listDeks(tx: StoreReader): DekRecord[] {
  return tx.list<DekRecord>(DEK_PREFIX).map((e) => e.value);
}

export function putDek(tx: StoreTx, record: DekRecord): void {
  tx.put(dekKey(record.serial), record as unknown as Json);
}

export function getDek(tx: StoreReader, serial: string): DekRecord | undefined {
  return tx.get<DekRecord>(dekKey(serial))?.value;
}

/**
 * started: the new MK's keyID is chosen, nothing else recorded (an external key may exist
 * at the provider under its Name). created: the new MK is recorded; DEK records are being
 * given its wrap as `next` beside the old one. committed: every DEK is wrapped by the new
 * MK (its own wrap or `next`) except those of nodes that were offline, which keep the old
 * one; the new MK is current; the records settle to the new wrap alone.
 * rollingBack: an interrupted `started` rekey whose key may still have to be found by Name
 * and destroyed.
 */
export type RekeyPhase = 'started' | 'created' | 'committed' | 'rollingBack';

export interface RekeyJournal {
  asyncHandle: number;
  phase: RekeyPhase;
  from: KeyInfo;
  to: KeyInfo;
  /**
   * The master term (its election lease) that took the rekey on: a journal taken by a term
   * that is not running it any more was interrupted. Absent: begun, not yet taken.
   */
  takenBy?: string;
  /**
   * Set at the commit: the nodes that were offline with DEKs still wrapped by the old MK,
   * which is kept (`retiring`) until they re-wrap them on their return.
   */
  behind?: number[];
}

export function getJournal(tx: StoreReader): RekeyJournal | undefined {
  return tx.get<RekeyJournal>(JOURNAL_KEY)?.value;
}

export function putJournal(tx: StoreTx, journal: RekeyJournal): void {
  tx.put(JOURNAL_KEY, journal as unknown as Json);
}

export function deleteJournal(tx: StoreTx): void {
  tx.delete(JOURNAL_KEY);
}
