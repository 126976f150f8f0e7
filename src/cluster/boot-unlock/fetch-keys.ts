// The AKs of the locked drives: one batched KMIP Get per provider over one connection,
// internal AKs unsealed, each checked against its key check value so a wrong or swapped
// key never reaches a drive. What each key server did is reported per server.
// Two steps, so that a boot can send for the keys before it knows which drives are locked
// (requestKeys) and take from the answers only the keys of those that are (collectKeys).
import type { Logger } from 'pino';
import type { KmipProvider } from '../../kmip/client';
import type { Store } from '../../store/store';
import type { ClusterKeyPair } from '../key-pair';
import type { Sealer } from '../sealer';
import type { DakAccess } from '../split-key/dak-access';
import {
  checkMatches,
  sealLabel,
  uidsByProvider,
  type DriveKeyRecord,
} from '../drive-keys/drive-keys';
import { withInternalOpener, type InternalOpener } from '../drive-keys/internal-sealing';
import { fetchAks, type KmipSettings } from '../drive-keys/kmip-keys';
import { askProvider, type ProviderAnswer } from '../key-servers/ask-provider';
import { noteServer, type ServerOutcomes } from '../key-servers/server-faults';
import { groupBy } from '../../util/group-by';

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
}

export interface FetchDeps {
  store: Store;
  sealer: Sealer;
  keyPair: ClusterKeyPair;
  kmip: KmipSettings;
  /** Given on a shared store: opens internal AKs sealed under the drive-access key. */
  dak?: DakAccess;
  logger?: Logger;
  /** Providers opened ahead (connecting while the drives' status was read); closed by askProvider. */
  opened?: ReadonlyMap<number, KmipProvider>;
}

/** keyProviderID → what it answered to the batched Get of its keys (kmipUID → AK or error). */
export type KeyAnswers = Map<number, ProviderAnswer<Map<string, Buffer | Error>>>;

export async function fetchKeys(deps: FetchDeps, records: DriveKeyRecord[]): Promise<FetchedKeys> {
  const answers = await requestKeys(deps, records);
  return withInternalOpener(deps, records, (open) => collectKeys(open, records, answers));
}

/** One batched Get per provider for the external keys among `records`, all at once. */
export async function requestKeys(deps: FetchDeps, records: DriveKeyRecord[]): Promise<KeyAnswers> {
  const uids = uidsByProvider(records);
  const answers: KeyAnswers = new Map();
  await Promise.all(
    [...uids].map(async ([keyProviderID, group]) => {
      answers.set(keyProviderID, await askProvider(deps, keyProviderID, (p) => fetchAks(p, group)));
    }),
  );
  return answers;
}

/** Whether `answers` hold an answer (a key, or why not) for every external key of `records`. */
export function answersCover(answers: KeyAnswers, records: DriveKeyRecord[]): boolean {
  return records.every((r) => {
    if (r.keyProviderID === null) return true;
    const answer = answers.get(r.keyProviderID);
    return !!answer && (!answer.value || answer.value.has(r.kmipUID!));
  });
}

/**
 * The AKs of `records` from `answers` (internal ones unsealed), and each contacted key
 * server's outcome for these keys. Every fetched key not handed out is zeroed here.
 */
export function collectKeys(
  sealer: Sealer | InternalOpener,
  records: DriveKeyRecord[],
  answers: KeyAnswers,
): FetchedKeys {
  const open = typeof sealer === 'function' ? sealer : () => sealer;
  const out = collectExternalKeys(
    records.filter((r) => r.keyProviderID !== null),
    answers,
  );
  for (const r of records)
    if (r.keyProviderID === null) out.aks.set(r.keyID, unsealInternalKey(open(r), r));
  return out;
}

/** What taking a key from the answers needs of its record. */
export type ExternalKey = Pick<DriveKeyRecord, 'keyID' | 'kmipUID' | 'keyCheckValue' | 'serial'> & {
  keyProviderID: number | null;
};

/**
 * The AKs of `records` (keys at a provider) from `answers`, each checked against its key
 * check value, and each contacted key server's outcome for these keys. Every fetched key
 * not handed out is zeroed here.
 */
export function collectExternalKeys(records: ExternalKey[], answers: KeyAnswers): FetchedKeys {
  const out: FetchedKeys = { aks: new Map(), servers: new Map() };
  const byProvider = groupBy(records, (r) => r.keyProviderID!);
  const handedOut = new Set<Buffer>();
  for (const [keyProviderID, group] of byProvider) {
    const answer = answers.get(keyProviderID);
    if (!answer) {
      for (const r of group) out.aks.set(r.keyID, { reason: 'no key server asked', retry: true });
      continue;
    }
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
      const got = fetched.get(r.kmipUID!);
      if (got === undefined) {
        out.aks.set(r.keyID, { reason: 'key not asked for', retry: true });
      } else if (got instanceof Error) {
        missing.push(`${r.kmipUID}: ${got.message}`);
        out.aks.set(r.keyID, {
          reason: `key unavailable at the key server: ${got.message}`,
          retry: true,
        });
      } else {
        handedOut.add(got);
        out.aks.set(r.keyID, verifyKeyCheckValue(got, r));
      }
    }
    if (answer.servedBy !== undefined) {
      noteServer(
        out.servers,
        answer.servedBy,
        missing.length ? `${missing.length} key(s) unavailable (${missing.join('; ')})` : null,
      );
    }
  }
  zeroAnswers(answers, handedOut);
  return out;
}

/** Zeroes every fetched key in `answers` except those in `keep`. */
export function zeroAnswers(answers: KeyAnswers, keep: ReadonlySet<Buffer> = new Set()): void {
  for (const answer of answers.values()) {
    for (const got of answer.value?.values() ?? []) {
      if (Buffer.isBuffer(got) && !keep.has(got)) got.fill(0);
    }
  }
}

/** Zeroes every fetched key once `answers` arrive (answers no round will take). */
export function zeroWhenAnswered(answers: Promise<KeyAnswers | undefined>): void {
  void answers.then((a) => a && zeroAnswers(a));
}

/** What opening an internal key needs of its record. */
export type InternalKey = Pick<DriveKeyRecord, 'keyID' | 'sealedKey' | 'keyCheckValue' | 'serial'>;

/** The internal AK of `record`, unsealed and checked (the caller zeroes it), or why not. */
export function unsealInternalKey(
  sealer: Sealer | Error,
  record: InternalKey,
): Buffer | KeyFailure {
  // The drive-access key not put together (no peer answered): a peer may answer later.
  if (sealer instanceof Error) return { reason: sealer.message, retry: true };
  try {
    return verifyKeyCheckValue(
      sealer.unseal(Buffer.from(record.sealedKey!, 'base64'), sealLabel(record.keyID)),
      record,
    );
  } catch (err) {
    return { reason: `cannot unseal the key: ${(err as Error).message}`, retry: false };
  }
}

/** `ak` when it matches the record's key check value; else zeroed, and why not. */
function verifyKeyCheckValue(ak: Buffer, record: ExternalKey | InternalKey): Buffer | KeyFailure {
  if (checkMatches(ak, record)) return ak;
  ak.fill(0);
  return { reason: `key ${record.keyID} does not match its key check value`, retry: false };
}
