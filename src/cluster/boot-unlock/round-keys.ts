// The keys of the drives a round tries: taken from the keys sent for ahead when their
// answers cover them, fetched otherwise. Without keys sent for ahead, a client per key
// provider starts connecting (TLS handshake, version negotiation) while the drives' status
// is read, so that the Get goes out the moment the round knows what to ask for.
import type { KmipProvider } from '../../kmip/client';
import type { DriveKeyRecord } from '../drive-keys/drive-keys';
import { withInternalOpener } from '../drive-keys/internal-sealing';
import { openProvider } from '../drive-keys/kmip-keys';
import {
  answersCover,
  collectKeys,
  fetchKeys,
  zeroAnswers,
  zeroWhenAnswered,
  type FetchDeps,
  type FetchedKeys,
  type KeyAnswers,
} from './fetch-keys';
import type { Prefetched } from './prefetch-keys';
import type { DriveToTry, RoundRecords } from './round-drives';

export interface RoundKeysDeps extends Omit<FetchDeps, 'opened'> {
  /** Called once the round waits on the key server (see BootUnlockService.keysAsked). */
  keysAsked: () => void;
}

/**
 * The keys of the drives `findDrivesToTry` settles on (it reads their status). Every key
 * fetched and not in the result is zeroed, and every client opened here closed, whatever
 * happens.
 */
export async function keysForRound(
  deps: RoundKeysDeps,
  records: RoundRecords,
  prefetched: Prefetched | undefined,
  findDrivesToTry: () => Promise<DriveToTry[]>,
  opts: { preconnect: boolean } = { preconnect: true },
): Promise<{ toTry: DriveToTry[]; keys: FetchedKeys }> {
  // With keys asked for ahead, no other connection is made unless they fall short.
  const opened =
    prefetched || !opts.preconnect ? new Map<number, KmipProvider>() : openProviders(deps, records);
  let prefetchTaken = false;
  try {
    const toTry = await findDrivesToTry();
    const fetchStarted = performance.now();
    const keyRecords = toTry.map((d) => d.key);
    if (!prefetched?.answered) deps.keysAsked();
    const answers = await prefetched?.answers;
    prefetchTaken = true;
    const keys = await takeOrFetch(deps, keyRecords, answers, opened);
    if (toTry.length)
      deps.logger?.debug(
        { keys: toTry.length, ms: Math.round(performance.now() - fetchStarted) },
        'keys fetched',
      );
    return { toTry, keys };
  } finally {
    // Those no locked drive needed (askProvider closed the ones it used; twice is harmless).
    for (const provider of opened.values()) provider.close();
    if (!prefetchTaken && prefetched) zeroWhenAnswered(prefetched.answers);
  }
}

/** The keys of `records` from `answers` when they cover them all, else fetched (answers zeroed). */
async function takeOrFetch(
  deps: RoundKeysDeps,
  records: DriveKeyRecord[],
  answers: KeyAnswers | undefined,
  opened: ReadonlyMap<number, KmipProvider>,
): Promise<FetchedKeys> {
  if (answers && answersCover(answers, records)) {
    return withInternalOpener(deps, records, (open) => collectKeys(open, records, answers));
  }
  if (answers) zeroAnswers(answers);
  deps.keysAsked();
  return fetchKeys({ ...deps, opened }, records);
}

/**
 * A client per key provider holding a candidate's key, already connecting. One that
 * cannot be opened is left to fetchKeys, which opens it again and reports why.
 */
function openProviders(deps: FetchDeps, records: RoundRecords): Map<number, KmipProvider> {
  const opened = new Map<number, KmipProvider>();
  const { store, keyPair, kmip, logger } = deps;
  for (const d of records.candidates) {
    const providerID = records.keys.get(d.keyID!)?.keyProviderID;
    if (providerID === null || providerID === undefined || opened.has(providerID)) continue;
    try {
      const provider = openProvider(store, keyPair, providerID, kmip, logger);
      provider.preconnect();
      opened.set(providerID, provider);
    } catch {
      // fetchKeys opens it again and reports why it cannot
    }
  }
  return opened;
}
