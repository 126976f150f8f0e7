// The keys of every drive under hardware EAR, sent for before the first round knows which
// drives are locked (at a boot they all are): the key server's handshake and answer then
// overlap the rest of the start. Either the early request's (sent from key-plan.json before
// the store opened), when the store names the same servers and key pair, or a request of
// our own. The round takes what it needs from the answers; whatever nobody takes is zeroed.
import type { Logger } from 'pino';
import type { Store } from '../../store/store';
import type { KmipSettings } from '../drive-keys/kmip-keys';
import type { ClusterKeyPair } from '../key-pair';
import type { Sealer } from '../sealer';
import { requestKeys, zeroWhenAnswered, type KeyAnswers } from './fetch-keys';
import { planFromStore, sameServers, type EarlyRequest } from './key-plan';
import { candidateKeys } from './round-drives';
import { isGuarded } from './try-guard';

/** Keys fetched ahead that no round took this soon are dropped (and zeroed). */
const PREFETCH_MAX_AGE_MS = 10_000;

/** Keys asked for ahead of a round: when, the answers, and whether they are in. */
export interface Prefetched {
  at: number;
  answers: Promise<KeyAnswers | undefined>;
  answered: boolean;
}

function prefetched(at: number, answers: Promise<KeyAnswers | undefined>): Prefetched {
  const entry: Prefetched = { at, answers, answered: false };
  void answers.then(() => (entry.answered = true));
  return entry;
}

export interface PrefetchDeps {
  store: Store;
  sealer: Sealer;
  keyPair: ClusterKeyPair;
  kmip: KmipSettings;
  /** This boot's id: keys the TryLimit guard holds back are not asked for. */
  bootID: string;
  logger?: Logger;
}

/**
 * Sends for the keys of the drives under hardware EAR (one batched Get per provider), or
 * takes `early`'s answers instead when its plan names the servers and key pair the store
 * does (else they are zeroed unused). Undefined when there is nothing to ask for.
 */
export function sendForKeysAhead(deps: PrefetchDeps, early?: EarlyRequest): Prefetched | undefined {
  const { store, keyPair, logger } = deps;
  const keyed = candidateKeys(store);
  const records = keyed
    .filter(({ drive, key }) => !isGuarded(store, drive.driveID, key, deps.bootID))
    .map((c) => c.key);
  // The plan file itself is rewritten after the first round, off the unlock's path.
  const plan =
    early &&
    planFromStore(
      store,
      keyPair,
      keyed.map((c) => c.key),
    );
  if (early && plan && sameServers(early.plan, plan)) {
    logger?.debug(
      // sentAt: ms after the process started (performance's time origin).
      { sentAt: Math.round(early.at), asked: Math.round(performance.now() - early.at) },
      'keys were sent for before the store opened (key plan)',
    );
    return prefetched(early.at, early.answers);
  }
  if (early) zeroWhenAnswered(early.answers);
  if (records.length === 0) return undefined;
  const answers = requestKeys(deps, records).catch(
    () => undefined, // the round asks again, and reports why it cannot
  );
  return prefetched(performance.now(), answers);
}

/** `keys` unless too old to trust (then zeroed once answered); the caller zeroes them. */
export function freshOrDropped(keys: Prefetched | undefined): Prefetched | undefined {
  if (!keys) return undefined;
  if (performance.now() - keys.at <= PREFETCH_MAX_AGE_MS) return keys;
  zeroWhenAnswered(keys.answers);
  return undefined;
}
