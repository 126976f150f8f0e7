// The keys of every drive under hardware EAR, sent for before the first round knows which
// drives are locked (at a boot they all are): the key server's handshake and answer then
// overlap the rest of the start. Used when no early unlock ran before the store opened
// (no key plan yet). The round takes what it needs from the answers; whatever nobody takes
// is zeroed.
import type { Logger } from 'pino';
import type { Store } from '../../store/store';
import type { KmipSettings } from '../drive-keys/kmip-keys';
import type { ClusterKeyPair } from '../key-pair';
import type { Sealer } from '../sealer';
import { requestKeys, zeroWhenAnswered, type KeyAnswers } from './fetch-keys';
import type { NodeScope } from '../drives/node-scope';
import { externallyKeyed, readRoundRecords } from './round-drives';
import { guardHolds } from './try-guard';

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
  /** This node's drives: only their keys are asked for. */
  scope: NodeScope;
  logger?: Logger;
}

/**
 * Sends for the keys of the drives under hardware EAR (one batched Get per provider).
 * Undefined when there is nothing to ask for.
 */
export function sendForKeysAhead(deps: PrefetchDeps): Prefetched | undefined {
  const records = readRoundRecords(deps.store, deps.scope);
  const keys = externallyKeyed(records)
    .filter(({ drive, key }) => {
      const guard = records.guards.get(drive.driveID);
      return !guard || !guardHolds(guard, key, deps.bootID);
    })
    .map((c) => c.key);
  if (keys.length === 0) return undefined;
  const answers = requestKeys(deps, keys).catch(
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
