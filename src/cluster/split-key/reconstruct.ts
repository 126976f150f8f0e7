// Puts the DAK back together on this node: its own share and one peer's, fetched over
// mutual TLS from the peers holding the current generation in turn until one answers with a
// share that gives the DAK its check value. With every peer down or refusing, a
// SplitKeyError says which and why; nothing is left in memory.
import type { StoreReader } from '../../store/store';
import { combine } from '../../util/shamir';
import { activeNodes } from '../nodes/node-records';
import { fetchPeerShare, type PeerEndpoint } from '../node-link/share-client';
import type { TlsIdentity } from '../self-signed';
import { dakMatches, splitKeyState, type SplitKeyState } from './split-key-records';
import { ownShare, SplitKeyError, type ShareHolder } from './split-key';

export interface ReconstructDeps {
  store: StoreReader;
  holder: ShareHolder;
  /** This node's link identity; each call gives a fresh copy of the key (zeroed here). */
  linkIdentity: () => Promise<TlsIdentity>;
  timeoutMs?: number;
}

/** The DAK; the caller zeroes it. */
export async function reconstructDak(deps: ReconstructDeps): Promise<Buffer> {
  const state = splitKeyState(deps.store);
  if (!state) throw new SplitKeyError('no key is split across the nodes');
  const own = ownShare(deps.store, deps.holder, state.generation);
  if (!own) {
    throw new SplitKeyError(
      `node ${deps.holder.nodeID} holds no share of key generation ${state.generation}`,
    );
  }
  const peers = activeNodes(deps.store)
    .filter((n) => n.nodeID !== deps.holder.nodeID && state.nodeIDs.includes(n.nodeID))
    .map((n) => ({ nodeID: n.nodeID, ...(n.link ? { host: n.mip, ...n.link } : {}) }));
  try {
    const identity = await deps.linkIdentity();
    try {
      return await dakWithPeerShare(own, peers, state, identity, deps.timeoutMs);
    } finally {
      identity.key.fill(0);
    }
  } finally {
    own.fill(0);
  }
}

/** A peer holding a share, and where its link listens (none when it recorded no link). */
export type SharePeer = { nodeID: number } & Partial<PeerEndpoint>;

/**
 * The DAK from `own` share and the first of `peers` whose share, fetched over the link
 * with `identity`, gives `state`'s check value; the caller zeroes it, and keeps `own` and
 * `identity` (zeroed by it). A SplitKeyError naming each peer and why when none does.
 */
export async function dakWithPeerShare(
  own: Buffer,
  peers: SharePeer[],
  state: SplitKeyState,
  identity: TlsIdentity,
  timeoutMs?: number,
): Promise<Buffer> {
  const failures: string[] = [];
  for (const peer of peers) {
    if (!peer.host || !peer.port || !peer.certificate) {
      failures.push(`node ${peer.nodeID}: no link address recorded`);
      continue;
    }
    let theirs: Buffer | undefined;
    try {
      theirs = await fetchPeerShare(
        { host: peer.host, port: peer.port, certificate: peer.certificate },
        identity,
        state.generation,
        timeoutMs,
      );
      const dak = combine([own, theirs]);
      if (dakMatches(dak, state)) return dak;
      dak.fill(0);
      failures.push(`node ${peer.nodeID}: its share does not give the key`);
    } catch (err) {
      failures.push(`node ${peer.nodeID}: ${(err as Error).message}`);
    } finally {
      theirs?.fill(0);
    }
  }
  throw new SplitKeyError(
    `cannot put the drive-access key together: no peer gave its share (${
      failures.join('; ') || 'no peer holds one'
    })`,
  );
}
