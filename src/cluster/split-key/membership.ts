// A change of membership splits the drive-access key (DAK) again, in the commit that makes
// it: AddNodes gives the new nodes a share, RemoveNodes deletes the removed nodes' shares
// and moves the others to a new generation (split-key.ts). The DAK is put together before
// the commit, from the calling node's share and a peer's; when it cannot be, or the change
// would leave fewer nodes than it takes, the change is refused and nothing is written.
import type { StoreReader, StoreTx } from '../../store/store';
import { CLUSTER_KEY } from '../cluster-info';
import { ElementError } from '../errors';
import type { NodeRecord } from '../nodes/node-records';
import { dakOf, type DakAccess } from './dak-access';
import { splitKeyState, THRESHOLD } from './split-key-records';
import { resplitIn, SplitKeyError } from './split-key';

/** While the key is split: the DAK (the caller zeroes it), or why the change must wait. */
export async function dakForMembershipChange(
  store: StoreReader,
  access: DakAccess | undefined,
): Promise<Buffer | undefined> {
  if (!splitKeyState(store)) return undefined;
  try {
    return await dakOf(store, access);
  } catch (err) {
    throw new ElementError(
      'xDriveAccessKeyUnavailable',
      `The drive-access key split across the nodes must be split again for this change, and ${
        (err as Error).message
      }. Retry once a peer answers, or through another node.`,
    );
  }
}

/** Inside the change's commit: the DAK split across `nodes`, the nodes active after it. */
export function resplitForMembersIn(
  tx: StoreTx,
  dak: Buffer | undefined,
  nodes: NodeRecord[],
): void {
  if (!splitKeyState(tx)) return;
  if (!dak) {
    throw new ElementError(
      'xDriveAccessKeyUnavailable',
      'The drive-access key was split across the nodes meanwhile; retry.',
    );
  }
  if (nodes.length < THRESHOLD) {
    throw new ElementError(
      'xEnsembleInvalidSize',
      `The internal drive keys are split across the nodes, ${THRESHOLD} of them needed to ` +
        `open them: the cluster keeps ${THRESHOLD} nodes or more.`,
    );
  }
  const uuid = tx.get<{ uuid: string }>(CLUSTER_KEY)!.value.uuid;
  try {
    resplitIn(tx, dak, nodes, uuid);
  } catch (err) {
    if (!(err instanceof SplitKeyError)) throw err;
    throw new ElementError(
      'xDriveAccessKeyNotSplit',
      `The internal drive key cannot be split across the nodes: ${err.message}.`,
    );
  }
}
