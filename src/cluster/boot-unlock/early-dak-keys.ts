// The early unlock's keys for drives whose AK is sealed under the split drive-access key
// (DAK), from the key plan alone: the DAK put together from this node's share (opened with
// the X25519 key in its stateDir) and a peer's, asked over the node link at the endpoints
// the plan pinned; each AK opened under it inside the cluster sealer and checked against its
// key check value. The DAK is zeroed as soon as the AKs are out. No peer answering leaves
// each such drive with the reason, for the boot's first round.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { nodeSealingKey } from '../../store/node-sealing-key';
import { NODE_SEALING_KEY_FILE } from '../../store/state-files';
import { keptNodeLinkIdentity } from '../node-link/link-identity';
import type { Sealer } from '../sealer';
import { DakSealer } from '../split-key/dak-sealer';
import { SplitKeyError } from '../split-key/split-key';
import { unsealInternalKey, type InternalKey, type KeyFailure } from './fetch-keys';
import { dakFromPlan, type PlannedSplitKey } from './split-key-plan';

/** What the early unlock needs for the plan's DAK-sealed drives. */
export interface EarlySplitKey {
  /** Puts the DAK together (the caller zeroes it); a SplitKeyError when it cannot. */
  dak(): Promise<Buffer>;
  /** The cluster sealer: the AKs' outer layer. */
  outer: Sealer;
}

/**
 * The early unlock's EarlySplitKey from `stateDir`'s files: its sealing key and link
 * identity are read (never made: no lock is held yet) when the DAK is asked for.
 */
export function stateDirSplitKey(options: {
  planned: PlannedSplitKey;
  stateDir: string;
  /** The node's own seal.key: its X25519 and link keys are sealed under it. */
  local: Sealer;
  outer: Sealer;
  timeoutMs?: number;
}): EarlySplitKey {
  const { planned, stateDir, local } = options;
  return {
    outer: options.outer,
    dak: async () => {
      if (!existsSync(join(stateDir, NODE_SEALING_KEY_FILE)))
        throw new SplitKeyError('this node keeps no sealing key to open its share');
      const sealingKey = nodeSealingKey(stateDir, local);
      const identity = keptNodeLinkIdentity(stateDir, local);
      if (!identity) throw new SplitKeyError('this node keeps no link certificate to ask a peer');
      try {
        return await dakFromPlan(planned, sealingKey, identity, options.timeoutMs);
      } finally {
        identity.key.fill(0);
      }
    },
  };
}

/** keyID → the AK of each of `drives` (the caller zeroes them), or why there is none. */
export async function dakSealedKeys(
  split: EarlySplitKey,
  drives: InternalKey[],
): Promise<Map<string, Buffer | KeyFailure>> {
  let dak: Buffer;
  try {
    dak = await split.dak();
  } catch (err) {
    const failure = { reason: (err as Error).message, retry: true };
    return new Map(drives.map((d) => [d.keyID, failure]));
  }
  try {
    const sealer = new DakSealer(dak, split.outer);
    return new Map(drives.map((d) => [d.keyID, unsealInternalKey(sealer, d)]));
  } finally {
    dak.fill(0);
  }
}
