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
