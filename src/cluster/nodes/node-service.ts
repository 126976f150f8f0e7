// Element's node methods over the node records: the nodes of the cluster (active), those
// waiting to join it (pending), AddNodes and RemoveNodes, and the elected master. This node
// becomes node 1 when CreateCluster runs here; a cluster created before nodes were recorded
// gets its node 1 at the next start.
import type { Logger } from 'pino';
import type { Json, Store, StoreReader, StoreTx } from '../../store/store';
import { CLUSTER_KEY } from '../cluster-info';
import { driveNodeID, listDriveRecords, type DriveStatus } from '../drives/drive-records';
import { ElementError } from '../errors';
import { MASTER_LEASE_TTL_SECONDS, MasterElection } from './master-election';
import { EnsembleWatch } from './ensemble-watch';
import { OfflineWatch, type NodeFaults } from './offline-watch';
import {
  activeNodeKey,
  activeNodes,
  counters,
  MASTER_KEY,
  NODE_COUNTERS_KEY,
  nodeView,
  pendingNodeKey,
  pendingNodes,
  pendingNodeView,
  type MasterRecord,
  type NodeIdentity,
  type NodeRecord,
} from './node-records';

/** Drives that hold data or are on their way out: RemoveNodes refuses their node. */
const IN_USE: ReadonlySet<DriveStatus> = new Set(['active', 'erasing', 'removing']);

/** A node's drives in use (records without a node are node 1's). */
function drivesInUse(reader: StoreReader, nodeID: number): number {
  return listDriveRecords(reader).filter(
    (d) => driveNodeID(d) === nodeID && d.present && IN_USE.has(d.status),
  ).length;
}

export interface AddedNode {
  pendingNodeID: number;
  nodeID: number;
  assignedNodeID: number;
  mip: string;
}

export class NodeService {
  private election: MasterElection | undefined;
  private offlineWatch: OfflineWatch | undefined;
  private ensembleWatch: EnsembleWatch | undefined;

  constructor(
    private readonly store: Store,
    private readonly self: NodeIdentity,
    private readonly options: {
      logger?: Logger;
      /** Where the master raises nodeOffline; without it nothing watches the nodes. */
      faults?: NodeFaults;
      /** The session lease's TTL (default MASTER_LEASE_TTL_SECONDS). */
      leaseTtlSeconds?: number;
      /** How often the master checks the store's ensemble (default ENSEMBLE_CHECK_MS). */
      ensembleCheckMs?: number;
    } = {},
  ) {}

  private get logger(): Logger | undefined {
    return this.options.logger;
  }

  /** ListActiveNodes. */
  active(): { [k: string]: Json }[] {
    return activeNodes(this.store).map(nodeView);
  }

  /** ListPendingNodes. */
  pending(): { [k: string]: Json }[] {
    return pendingNodes(this.store).map(pendingNodeView);
  }

  /** This node's record, once it is in the cluster. */
  selfRecord(reader: StoreReader = this.store): NodeRecord | undefined {
    return activeNodes(reader).find((n) => n.uuid === this.self.uuid);
  }

  /** GetClusterMasterNodeID. */
  masterNodeID(): number {
    if (!created(this.store)) {
      throw new ElementError('xClusterNotCreated', 'No cluster exists yet; call CreateCluster.');
    }
    const master = this.store.get<MasterRecord>(MASTER_KEY)?.value;
    if (!master) {
      throw new ElementError(
        'xClusterMasterUnavailable',
        'No cluster master is elected at the moment (one is elected within seconds); retry.',
      );
    }
    return master.nodeID;
  }

  /** Whether this node is the elected cluster master now. */
  isMaster(): boolean {
    return this.election?.isMaster() ?? false;
  }

  /**
   * CreateCluster's part, inside its transaction: this node becomes node 1. The addresses
   * are CreateCluster's `nodes` (single-node clusters: one, this node's).
   */
  createIn(tx: StoreTx, addresses: string[]): void {
    const [address] = addresses;
    const record: NodeRecord = {
      ...this.self,
      nodeID: 1,
      cip: address!,
      sip: address!,
      addedAt: new Date().toISOString(),
    };
    tx.put(activeNodeKey(1), record as unknown as Json);
    tx.put(NODE_COUNTERS_KEY, { ...counters(tx), nextNodeID: 2 } as unknown as Json);
  }

  /**
   * At start: a cluster created before nodes were recorded gets this node as node 1; this
   * node's record follows its name, address and version. Then, once this node is in the
   * cluster, it runs for master.
   */
  async start(): Promise<void> {
    await this.store.transaction((tx) => {
      if (!created(tx)) return;
      const nodes = activeNodes(tx);
      const mine = nodes.find((n) => n.uuid === this.self.uuid);
      if (!mine) {
        if (nodes.length > 0) return; // another node's cluster: joining is AddNodes' work
        const cluster = tx.get<{ nodes?: string[] }>(CLUSTER_KEY)?.value;
        this.createIn(tx, [cluster?.nodes?.[0] ?? this.self.mip]);
        return;
      }
      const { name, mip, softwareVersion, platform } = this.self;
      if (
        JSON.stringify([name, mip, softwareVersion, platform]) ===
        JSON.stringify([mine.name, mine.mip, mine.softwareVersion, mine.platform])
      )
        return;
      tx.put(activeNodeKey(mine.nodeID), {
        ...mine,
        name,
        mip,
        softwareVersion,
        platform,
      } as unknown as Json);
    });
    await this.elect();
  }

  /** After CreateCluster: this node is node 1, and runs for master. */
  async created(): Promise<void> {
    await this.elect();
  }

  /** AddNodes: pending nodes become active, each with a new nodeID. */
  async add(pendingNodeIDs: number[]): Promise<AddedNode[]> {
    return this.store.transaction((tx) => {
      this.refuseUnlessCreated(tx);
      const pending = pendingNodes(tx);
      const chosen = [...new Set(pendingNodeIDs)].map((id) => {
        const p = pending.find((n) => n.pendingNodeID === id);
        if (!p) {
          throw new ElementError(
            'xPendingNodeIDDoesNotExist',
            `Pending node ID ${id} does not exist (ListPendingNodes lists the pending nodes).`,
          );
        }
        return p;
      });
      const c = counters(tx);
      const added: AddedNode[] = [];
      for (const p of chosen) {
        const nodeID = c.nextNodeID++;
        const { pendingNodeID, ...identity } = p;
        const record: NodeRecord = {
          ...identity,
          nodeID,
          cip: p.mip,
          sip: p.mip,
          addedAt: new Date().toISOString(),
        };
        tx.put(activeNodeKey(nodeID), record as unknown as Json);
        tx.delete(pendingNodeKey(p.uuid));
        added.push({ pendingNodeID, nodeID, assignedNodeID: nodeID, mip: p.mip });
      }
      tx.put(NODE_COUNTERS_KEY, c as unknown as Json);
      return added;
    });
  }

  /** RemoveNodes: refuses a node whose drives still hold data, and the last node. */
  async remove(nodeIDs: number[]): Promise<void> {
    const removed = await this.store.transaction((tx) => {
      this.refuseUnlessCreated(tx);
      const nodes = activeNodes(tx);
      const ids = [...new Set(nodeIDs)];
      for (const id of ids) {
        if (!nodes.some((n) => n.nodeID === id)) {
          throw new ElementError('xNodeIDDoesNotExist', `Node ID ${id} does not exist.`);
        }
        const drives = drivesInUse(tx, id);
        if (drives > 0) {
          throw new ElementError(
            'xNodeHasActiveDrives',
            `Node ID ${id} still has ${drives} drive(s) in use; remove them with RemoveDrives ` +
              'and wait for it to finish before removing the node.',
          );
        }
      }
      if (ids.length >= nodes.length) {
        throw new ElementError(
          'xEnsembleInvalidSize',
          'Removing these nodes would leave the cluster without a node; a cluster keeps one.',
        );
      }
      for (const id of ids) {
        tx.delete(activeNodeKey(id));
        // A removed node is not offline: it is gone (resolved in the same commit).
        this.options.faults?.resolveIn(tx, 'nodeOffline', { nodeID: id });
      }
      return ids;
    });
    this.logger?.info({ nodeIDs: removed }, 'nodes removed');
  }

  async close(): Promise<void> {
    await this.election?.stop();
    await this.offlineWatch?.stop();
    await this.ensembleWatch?.stop();
  }

  /** Runs for master once this node is in the cluster; settles after the first try. */
  private async elect(): Promise<void> {
    const mine = this.selfRecord();
    if (this.election || !mine) return;
    const ttlSeconds = this.options.leaseTtlSeconds ?? MASTER_LEASE_TTL_SECONDS;
    this.election = new MasterElection(this.store, mine.nodeID, {
      logger: this.logger,
      ttlSeconds,
      onChange: (leading) => this.masterDuties(leading, ttlSeconds),
    });
    await this.election.settled();
  }

  /** What only the master runs: the watches of the nodes' liveness and the ensemble. */
  private masterDuties(leading: boolean, ttlSeconds: number): void {
    const { faults } = this.options;
    if (!faults) return;
    if (leading && !this.offlineWatch) {
      // A grace of one TTL after the key is gone: a node just started, or the others just
      // after this node took over, may not have put their alive keys yet.
      this.offlineWatch = new OfflineWatch(this.store, faults, ttlSeconds * 1000, this.logger);
      this.ensembleWatch = new EnsembleWatch(
        this.store,
        faults,
        this.options.ensembleCheckMs,
        this.logger,
      );
    } else if (!leading && this.offlineWatch) {
      void this.offlineWatch.stop();
      void this.ensembleWatch?.stop();
      this.offlineWatch = undefined;
      this.ensembleWatch = undefined;
    }
  }

  private refuseUnlessCreated(reader: StoreReader): void {
    if (!created(reader)) {
      throw new ElementError('xClusterNotCreated', 'No cluster exists yet; call CreateCluster.');
    }
  }
}

const created = (reader: StoreReader): boolean => reader.get(CLUSTER_KEY) !== undefined;
