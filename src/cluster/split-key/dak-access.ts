// What a node needs to put the drive-access key (DAK) together when it must: who it is as a
// share holder (read at each use: it joins and leaves while it runs) and its link identity
// for asking a peer. Given only on a shared store; without it internal AKs are sealed as
// before, under the cluster sealer alone.
import type { Logger } from 'pino';
import type { Sealer } from '../../store/seal';
import type { StoreReader } from '../../store/store';
import type { NodeSealingKey } from '../../store/node-sealing-key';
import { CLUSTER_KEY } from '../cluster-info';
import { nodeLinkIdentity } from '../node-link/link-identity';
import { localNodeID } from '../nodes/node-identity';
import type { TlsIdentity } from '../self-signed';
import { reconstructDak } from './reconstruct';
import { SplitKeyError, type ShareHolder } from './split-key';

export interface DakAccess {
  /** This node as a share holder now; none while it is no active node of a cluster. */
  holder(): ShareHolder | undefined;
  /** A fresh copy of this node's link identity (its key zeroed by the user). */
  linkIdentity(): Promise<TlsIdentity>;
  timeoutMs?: number;
  /** Inside withDakBatch: a copy of the DAK the batch put together once (or its failure). */
  batched?: () => Promise<Buffer>;
}

/** A node's DakAccess: its share opened with its sealing key, its link identity from its stateDir. */
export function nodeDakAccess(options: {
  store: StoreReader;
  /** The node's own seal.key: its link key is sealed under it. */
  local: Sealer;
  sealingKey: () => NodeSealingKey;
  stateDir: string;
  uuid: string;
  logger?: Logger;
}): DakAccess {
  const { store, stateDir } = options;
  return {
    holder: () => currentHolder(store, stateDir, options.sealingKey()),
    linkIdentity: () => nodeLinkIdentity(stateDir, options.local, options.uuid, options.logger),
  };
}

/** This node as a share holder, from its stateDir's node ID and the cluster record. */
export function currentHolder(
  store: StoreReader,
  stateDir: string,
  sealingKey: NodeSealingKey,
): ShareHolder | undefined {
  const nodeID = localNodeID(stateDir);
  const clusterUuid = store.get<{ uuid: string }>(CLUSTER_KEY)?.value.uuid;
  if (nodeID === undefined || !clusterUuid) return undefined;
  return { nodeID, sealingKey, clusterUuid };
}

/** The DAK from this node's share and a peer's (the caller zeroes it); SplitKeyError if not. */
export async function dakOf(store: StoreReader, access: DakAccess | undefined): Promise<Buffer> {
  if (!access) {
    throw new SplitKeyError('the drive-access key is split across nodes this node cannot reach');
  }
  if (access.batched) return access.batched();
  const holder = access.holder();
  if (!holder) {
    throw new SplitKeyError('this node holds no share of the drive-access key: no active node');
  }
  return reconstructDak({
    store,
    holder,
    linkIdentity: () => access.linkIdentity(),
    ...(access.timeoutMs !== undefined ? { timeoutMs: access.timeoutMs } : {}),
  });
}

/** Runs `fn` with the DAK, zeroed once it is done. */
export async function withDak<R>(
  store: StoreReader,
  access: DakAccess | undefined,
  fn: (dak: Buffer) => R | Promise<R>,
): Promise<R> {
  const dak = await dakOf(store, access);
  try {
    return await fn(dak);
  } finally {
    dak.fill(0);
  }
}

/**
 * Runs `fn` with an access that puts the DAK together at most once for all of it: on first
 * use (work that needs no DAK fetches none), each use then a copy its user zeroes. A failure
 * is kept too: the batch's other drives fail with the same reason, and the job's retry asks
 * again. The held DAK is zeroed when `fn` is done; a use after that is refused.
 */
export async function withDakBatch<R>(
  store: StoreReader,
  access: DakAccess | undefined,
  fn: (batch: DakAccess | undefined) => Promise<R>,
): Promise<R> {
  if (!access || access.batched) return fn(access);
  let held: Promise<Buffer> | undefined;
  let over = false;
  const batch: DakAccess = {
    holder: () => access.holder(),
    linkIdentity: () => access.linkIdentity(),
    ...(access.timeoutMs !== undefined ? { timeoutMs: access.timeoutMs } : {}),
    batched: async () => {
      if (over) throw new SplitKeyError('the drive-access key of a finished batch was asked for');
      held ??= dakOf(store, access);
      const dak = await held;
      if (over) throw new SplitKeyError('the drive-access key of a finished batch was asked for');
      return Buffer.from(dak);
    },
  };
  try {
    return await fn(batch);
  } finally {
    over = true;
    if (held)
      await held.then(
        (dak) => dak.fill(0),
        () => undefined,
      );
  }
}
