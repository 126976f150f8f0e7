// The cluster sealing key (CSK) on a shared store. Every node must unseal what any node
// sealed into the store (the cluster private key, internal AKs and MKs), yet the store alone
// must yield nothing: records are sealed under the CSK, which is never in the store, a file
// or a log in the clear. A node receives it wrapped to the X25519 key it published while
// pending (a grant), in the commit that makes it active; it keeps the generations it holds
// in its stateDir under its own seal.key. RemoveNodes deletes the node's grant and rotates
// the CSK: a new generation, every sealed record sealed again under it, new grants for the
// nodes that remain; so what is written after a removal is closed to the removed node.
//
// The first CSK is made by CreateCluster; a cluster created before CSKs gets one when its
// node 1 starts (its records, sealed under node 1's seal.key, are sealed again under it).
// On SQLite none of this runs: the store is one node's, sealed under its seal.key.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import {
  blobGeneration,
  ClusterKeySealer,
  CskKeyring,
  CSK_BYTES,
  sealWithCsk,
} from '../../store/cluster-seal';
import {
  nodeSealingKey,
  unwrapForNode,
  wrapToNode,
  type NodeSealingKey,
} from '../../store/node-sealing-key';
import type { Sealer } from '../../store/seal';
import { MAX_TX_WRITES, type Json, type Store, type StoreTx } from '../../store/store';
import { CLUSTER_KEY } from '../cluster-info';
import { ElementError } from '../errors';
import type { NodeRecord } from '../nodes/node-records';
import { sealedBlobs } from './sealed-records';
import {
  GRANT_PREFIX,
  grantContext,
  grantKey,
  SEALING_STATE_KEY,
  sealingState,
  type GrantRecord,
  type SealingState,
} from './sealing-records';

/** Writes a rotation leaves to RemoveNodes' own records (node records, grants, faults). */
const RESERVED_WRITES = 32;

export class ClusterSealing {
  /** What cluster code seals and unseals with: the current CSK, or seal.key before one. */
  readonly sealer: Sealer;
  private readonly keyring: CskKeyring;
  private readonly identity: NodeSealingKey;
  private unwatch: (() => void) | undefined;

  constructor(
    private readonly store: Store,
    local: Sealer,
    stateDir: string,
    private readonly logger?: Logger,
  ) {
    this.identity = nodeSealingKey(stateDir, local);
    this.keyring = CskKeyring.open(stateDir, local);
    this.sealer = new ClusterKeySealer(local, this.keyring, () => sealingState(store)?.generation);
  }

  /** This node's X25519 public key (SPKI DER, base64), published in its node records. */
  get publicKey(): string {
    return this.identity.publicKey;
  }

  /** This node's X25519 key pair: what is wrapped to the node (grants, key shares) opens with it. */
  get nodeKey(): NodeSealingKey {
    return this.identity;
  }

  /** The CSK generations this node holds. */
  generations(): number[] {
    return this.keyring.generations();
  }

  /**
   * In the commit that makes `nodes` active (CreateCluster, AddNodes): each gets a grant of
   * the current CSK; a cluster without one gets its first here, every sealed record moving
   * under it.
   */
  grantIn(tx: StoreTx, nodes: NodeRecord[], allNodes: NodeRecord[] = nodes): void {
    const state = sealingState(tx);
    if (!state) {
      this.newGenerationIn(tx, 1, allNodes);
      return;
    }
    const key = this.keyring.get(state.generation);
    if (!key) {
      throw new ElementError(
        'xClusterSealingKeyNotHeld',
        `This node does not hold the cluster sealing key (generation ${state.generation}) ` +
          'yet; retry in a moment, or through another node.',
      );
    }
    for (const node of nodes) this.putGrant(tx, node, state.generation, key);
  }

  /**
   * In RemoveNodes' commit: the removed nodes' grants go, and the CSK moves to a new
   * generation that only the remaining nodes are granted.
   */
  rotateIn(tx: StoreTx, removed: number[], remaining: NodeRecord[]): void {
    for (const nodeID of removed) tx.delete(grantKey(nodeID));
    const state = sealingState(tx);
    if (!state) return;
    if (!this.keyring.has(state.generation)) {
      throw new ElementError(
        'xClusterSealingKeyNotHeld',
        `This node does not hold the cluster sealing key (generation ${state.generation}) ` +
          'yet, which removing a node rotates; retry in a moment, or through another node.',
      );
    }
    this.newGenerationIn(tx, state.generation + 1, remaining);
  }

  /**
   * Keeps the generation granted to `nodeID` (now and whenever its grant changes): unwraps
   * it and saves it in the stateDir. Safe to call again.
   */
  follow(nodeID: number): void {
    this.unwatch?.();
    this.unwatch = this.store.watch(GRANT_PREFIX, (change) => {
      if (change.key === grantKey(nodeID) && change.type === 'put') this.pickUp(nodeID);
    });
    this.pickUp(nodeID);
  }

  /** This node left the cluster: it stops following and forgets every generation. */
  forget(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    this.keyring.clear();
  }

  /**
   * A cluster created before CSKs: node 1 (which sealed its records under its seal.key)
   * makes the first CSK, seals them again under it and grants it to the active nodes.
   */
  async migrate(nodes: () => NodeRecord[]): Promise<void> {
    if (sealingState(this.store) || !this.store.get(CLUSTER_KEY)) return;
    await this.store.transaction((tx) => {
      if (sealingState(tx) || !tx.get(CLUSTER_KEY)) return;
      this.newGenerationIn(tx, 1, nodes());
    });
    await this.resealStale();
    this.logger?.info({}, 'cluster sealing key made; sealed records moved under it');
  }

  close(): void {
    this.unwatch?.();
    this.unwatch = undefined;
  }

  /** pickUp, its failure logged: a grant this node cannot open must not stop the node. */
  private pickUp(nodeID: number): void {
    try {
      this.unwrapGrant(nodeID);
    } catch (err) {
      this.logger?.error(
        { nodeID, err: (err as Error).message },
        "cannot take the cluster sealing key from this node's grant; add the node again",
      );
    }
  }

  private unwrapGrant(nodeID: number): void {
    const grant = this.store.get<GrantRecord>(grantKey(nodeID))?.value;
    if (!grant || this.keyring.has(grant.generation)) return;
    const uuid = this.store.get<{ uuid: string }>(CLUSTER_KEY)?.value.uuid ?? '';
    const key = unwrapForNode(
      Buffer.from(grant.wrapped, 'base64'),
      this.identity,
      grantContext(uuid, nodeID, grant.generation),
    );
    try {
      this.keyring.add(grant.generation, key);
    } finally {
      key.fill(0);
    }
    this.logger?.info({ generation: grant.generation }, 'cluster sealing key received');
  }

  /**
   * A new CSK `generation`: every sealed record moves under it (unsealed with what sealed
   * it), sealing/state names it and each of `nodes` gets a grant. The key lives only in
   * this run's memory: each node, this one too, takes it from its grant.
   */
  private newGenerationIn(tx: StoreTx, generation: number, nodes: NodeRecord[]): void {
    const key = randomBytes(CSK_BYTES);
    try {
      // As many as fit beside the caller's writes; resealStale() moves the rest after.
      this.resealIn(tx, key, generation, MAX_TX_WRITES - RESERVED_WRITES - nodes.length);
      tx.put(SEALING_STATE_KEY, { generation } satisfies SealingState as unknown as Json);
      for (const node of nodes) this.putGrant(tx, node, generation, key);
    } finally {
      key.fill(0);
    }
  }

  /**
   * Records still sealed under an older generation (more than RemoveNodes' commit could
   * take) move under the current one, in further commits. Returns how many moved.
   */
  async resealStale(): Promise<number> {
    let moved = 0;
    for (;;) {
      const n = await this.store.transaction((tx) => {
        const state = sealingState(tx);
        const key = state && this.keyring.get(state.generation);
        return key ? this.resealIn(tx, key, state.generation, MAX_TX_WRITES) : 0;
      });
      if (n === 0) return moved;
      moved += n;
    }
  }

  /** Seals again under `key` up to `limit` blobs not sealed under `generation` yet. */
  private resealIn(tx: StoreTx, key: Buffer, generation: number, limit: number): number {
    const stale = sealedBlobs(tx)
      .filter((b) => blobGeneration(Buffer.from(b.sealed, 'base64')) !== generation)
      .slice(0, Math.max(0, limit));
    for (const blob of stale) {
      const plain = this.sealer.unseal(Buffer.from(blob.sealed, 'base64'), blob.label);
      try {
        const again = sealWithCsk(key, generation, plain, blob.label);
        tx.put(blob.key, blob.with(again.toString('base64')));
      } finally {
        plain.fill(0);
      }
    }
    return stale.length;
  }

  private putGrant(tx: StoreTx, node: NodeRecord, generation: number, key: Buffer): void {
    if (!node.sealingKey) {
      // A node of an older release published no key: it cannot receive the CSK.
      this.logger?.warn({ nodeID: node.nodeID }, 'node has no sealing key: no grant');
      return;
    }
    const uuid = tx.get<{ uuid: string }>(CLUSTER_KEY)?.value.uuid ?? '';
    const wrapped = wrapToNode(key, node.sealingKey, grantContext(uuid, node.nodeID, generation));
    const grant: GrantRecord = {
      nodeID: node.nodeID,
      generation,
      wrapped: wrapped.toString('base64'),
    };
    tx.put(grantKey(node.nodeID), grant as unknown as Json);
  }
}
