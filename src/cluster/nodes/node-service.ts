// Element's node methods over the node records: the nodes of the cluster (active), those
// waiting to join it (pending), AddNodes and RemoveNodes, and the elected master. This node
// becomes node 1 when CreateCluster runs here; a cluster created before nodes were recorded
// gets its node 1 at the next start.
//
// On a shared store (etcd) a node that is not in the cluster registers itself as pending,
// under a lease of its own (a pending node that stops drops out of the list), and waits: when
// AddNodes or CreateCluster, run on any node, makes it active, it keeps its nodeID in
// node.json and runs for master; when RemoveNodes retires it, it stops and is pending again
// (Element: "a removed node registers itself as pending again"). On SQLite the store is this
// node's alone: no other node could ever see a pending record, so none is written.
import type { Logger } from 'pino';
import type { Json, Store, StoreLease, StoreReader, StoreTx } from '../../store/store';
import { CLUSTER_KEY } from '../cluster-info';
import { driveNodeID, listDriveRecords, type DriveStatus } from '../drives/drive-records';
import { ElementError } from '../errors';
import type { ClusterSealing } from '../sealing/cluster-sealing';
import type { DakAccess } from '../split-key/dak-access';
import { dakForMembershipChange, resplitForMembersIn } from '../split-key/membership';
import { saveLocalNodeID } from './node-identity';
import { MASTER_LEASE_TTL_SECONDS, MasterElection } from './master-election';
import { EnsembleWatch } from './ensemble-watch';
import { fencedFaults } from './fenced-faults';
import { MasterJobs, type MasterJob } from './master-jobs';
import { OfflineWatch, type NodeFaults } from './offline-watch';
import {
  ACTIVE_NODE_PREFIX,
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
  type PendingNodeRecord,
} from './node-records';

/** How soon a failed pending registration (store unreachable, lease lost) is tried again. */
const REGISTER_RETRY_MS = 1_000;

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
  private readonly masterJobs: MasterJobs;
  /** This node's pending record's lease, while it waits to be added. */
  private pendingLease: StoreLease | undefined;
  /** The nodeID this node runs as, once active. */
  private nodeID: number | undefined;
  /** Joining, leaving and registering run one at a time, in order. */
  private transitions: Promise<void> = Promise.resolve();
  private unwatchSelf: (() => void) | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

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
      /** Where node.json keeps this node's nodeID (none: not kept). */
      stateDir?: string;
      /**
       * The cluster sealing key on a shared store: granted to nodes as they are made
       * active, rotated when nodes are removed. None on SQLite.
       */
      sealing?: ClusterSealing;
      /** This node's way to the drive-access key, split again by AddNodes and RemoveNodes. */
      dak?: DakAccess;
      /**
       * Inside RemoveNodes' commit: what else goes with the removed nodes (the drive
       * requests still waiting for them, whose async results fail). Returns a count to log.
       */
      removedIn?: (tx: StoreTx, nodeIDs: number[]) => number;
    } = {},
  ) {
    this.masterJobs = new MasterJobs(options.logger);
    const { faults } = options;
    if (faults) {
      const ttlSeconds = options.leaseTtlSeconds ?? MASTER_LEASE_TTL_SECONDS;
      // A grace of one TTL after the key is gone: a node just started, or the others just
      // after this node took over, may not have put their alive keys yet.
      this.whileMaster((fence) => {
        const watch = new OfflineWatch(
          this.store,
          fencedFaults(faults, fence),
          ttlSeconds * 1000,
          this.logger,
        );
        return () => watch.stop();
      });
      this.whileMaster((fence) => {
        const watch = new EnsembleWatch(
          this.store,
          fencedFaults(faults, fence),
          options.ensembleCheckMs,
          this.logger,
        );
        return () => watch.stop();
      });
    }
  }

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
   * Runs `job` while this node acts as cluster master (started with the master's fence,
   * through which it writes; stopped when this node steps down). Returns its removal.
   */
  whileMaster(job: MasterJob): () => Promise<void> {
    return this.masterJobs.add(job);
  }

  /**
   * CreateCluster's part, inside its transaction: this node becomes node 1, with the first
   * address as its cluster address; each further address names a pending node (by its mip),
   * which becomes active as node 2, 3… An address that names no pending node refuses the
   * whole call.
   */
  createIn(tx: StoreTx, addresses: string[]): NodeRecord[] {
    const [address, ...others] = addresses;
    const pending = pendingNodes(tx).filter((p) => p.uuid !== this.self.uuid);
    const chosen = others.map((ip) => {
      const matches = pending.filter((p) => p.mip === ip);
      if (matches.length !== 1) {
        throw new ElementError(
          'xPendingNodeAddressDoesNotExist',
          matches.length === 0
            ? `No pending node has the address ${ip} (ListPendingNodes lists the pending nodes; ` +
                'a node registers once ekmd runs on it with the cluster store).'
            : `${matches.length} pending nodes have the address ${ip}; give each node its own ` +
                'address (config node.ip).',
        );
      }
      return matches[0]!;
    });
    const record: NodeRecord = {
      ...this.self,
      nodeID: 1,
      cip: address!,
      sip: address!,
      addedAt: new Date().toISOString(),
    };
    tx.put(activeNodeKey(1), record as unknown as Json);
    tx.delete(pendingNodeKey(this.self.uuid));
    const c = counters(tx);
    c.nextNodeID = Math.max(c.nextNodeID, 2);
    const records = [record, ...chosen.map((p) => this.activateIn(tx, p, c.nextNodeID++))];
    tx.put(NODE_COUNTERS_KEY, c as unknown as Json);
    this.options.sealing?.grantIn(tx, records, activeNodes(tx));
    return records;
  }

  /**
   * At start: a cluster created before nodes were recorded gets this node as node 1; this
   * node's record follows its name, address, version and sealing key. Then, once this node
   * is in the cluster, it runs for master; on a shared store, until then, it is pending.
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
      const { name, mip, softwareVersion, platform, sealingKey, link } = this.self;
      const wanted = [
        name,
        mip,
        softwareVersion,
        platform,
        sealingKey ?? mine.sealingKey,
        link ?? mine.link,
      ];
      const recorded = [
        mine.name,
        mine.mip,
        mine.softwareVersion,
        mine.platform,
        mine.sealingKey,
        mine.link,
      ];
      if (JSON.stringify(wanted) === JSON.stringify(recorded)) return;
      tx.put(activeNodeKey(mine.nodeID), {
        ...mine,
        name,
        mip,
        softwareVersion,
        platform,
        ...(sealingKey ? { sealingKey } : {}),
        ...(link ? { link } : {}),
      } as unknown as Json);
    });
    // Watched before looking, so that an AddNodes landing in between is not missed.
    this.unwatchSelf = this.store.watch(ACTIVE_NODE_PREFIX, (change) => {
      if (change.type === 'put' && (change.value as { uuid?: string }).uuid === this.self.uuid) {
        if (this.nodeID === undefined) this.queue(() => this.joined());
      } else if (change.type === 'delete' && change.key === activeNodeKey(this.nodeID ?? 0)) {
        this.queue(() => this.left());
      }
    });
    this.queue(async () => {
      if (this.selfRecord()) return this.joined();
      // Removed while it was down: what it held of the sealing key is of no use now.
      if (created(this.store)) this.options.sealing?.forget();
      return this.register();
    });
    await this.transitions;
  }

  /** After CreateCluster: this node is node 1, and runs for master. */
  async created(): Promise<void> {
    this.queue(() => this.joined());
    await this.transitions;
  }

  /** AddNodes: pending nodes become active, each with a new nodeID. */
  async add(pendingNodeIDs: number[]): Promise<AddedNode[]> {
    const dak = await dakForMembershipChange(this.store, this.options.dak);
    try {
      return await this.addIn(pendingNodeIDs, dak);
    } finally {
      dak?.fill(0);
    }
  }

  private addIn(pendingNodeIDs: number[], dak: Buffer | undefined): Promise<AddedNode[]> {
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
      const records = chosen.map((p) => this.activateIn(tx, p, c.nextNodeID++));
      tx.put(NODE_COUNTERS_KEY, c as unknown as Json);
      // Each gets the cluster sealing key, wrapped to the key it published, in this commit.
      this.options.sealing?.grantIn(tx, records, activeNodes(tx));
      // And a share of the drive-access key, when it is split.
      resplitForMembersIn(tx, dak, activeNodes(tx));
      return records.map((r, i) => ({
        pendingNodeID: chosen[i]!.pendingNodeID,
        nodeID: r.nodeID,
        assignedNodeID: r.nodeID,
        mip: r.mip,
      }));
    });
  }

  /** RemoveNodes: refuses a node whose drives still hold data, and the last node. */
  async remove(nodeIDs: number[]): Promise<void> {
    const dak = await dakForMembershipChange(this.store, this.options.dak);
    let removed: { ids: number[]; dropped: number };
    try {
      removed = await this.removeIn(nodeIDs, dak);
    } finally {
      dak?.fill(0);
    }
    this.logger?.info({ nodeIDs: removed.ids, requestsFailed: removed.dropped }, 'nodes removed');
    await this.options.sealing?.resealStale();
  }

  private removeIn(
    nodeIDs: number[],
    dak: Buffer | undefined,
  ): Promise<{ ids: number[]; dropped: number }> {
    return this.store.transaction((tx) => {
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
      // Its grant goes and the sealing key moves on: what is sealed from now on is closed
      // to the removed nodes.
      const remaining = nodes.filter((n) => !ids.includes(n.nodeID));
      this.options.sealing?.rotateIn(tx, ids, remaining);
      // Their shares go, and the others' move to a generation theirs do not combine with.
      resplitForMembersIn(tx, dak, remaining);
      const dropped = this.options.removedIn?.(tx, ids) ?? 0;
      return { ids, dropped };
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unwatchSelf?.();
    clearTimeout(this.retry);
    await this.transitions;
    await this.dropPending();
    this.options.sealing?.close();
    await this.election?.stop();
    await this.masterJobs.lead(undefined);
  }

  /** A pending node's record made active as `nodeID`, inside AddNodes' or CreateCluster's tx. */
  private activateIn(tx: StoreTx, p: PendingNodeRecord, nodeID: number): NodeRecord {
    const { pendingNodeID: _, ...identity } = p;
    const record: NodeRecord = {
      ...identity,
      nodeID,
      cip: p.mip,
      sip: p.mip,
      addedAt: new Date().toISOString(),
    };
    tx.put(activeNodeKey(nodeID), record as unknown as Json);
    tx.delete(pendingNodeKey(p.uuid));
    return record;
  }

  /** Runs `step` after the transitions before it; a failure is logged, not thrown. */
  private queue(step: () => Promise<void>): void {
    this.transitions = this.transitions
      .then(() => (this.closed ? undefined : step()))
      .catch((err: Error) => {
        this.logger?.warn({ err: err.message }, 'node membership step failed');
      });
  }

  /** This node is in the cluster: it keeps its nodeID, leaves the pending list, runs. */
  private async joined(): Promise<void> {
    const mine = this.selfRecord();
    if (!mine) return;
    const joining = this.nodeID === undefined;
    this.nodeID = mine.nodeID;
    await this.dropPending();
    if (this.options.stateDir) saveLocalNodeID(this.options.stateDir, mine.nodeID);
    if (joining) this.logger?.info({ nodeID: mine.nodeID }, 'this node is in the cluster');
    const { sealing } = this.options;
    if (sealing) {
      // Node 1 sealed the records of a cluster created before sealing keys: it makes one.
      if (mine.nodeID === 1) {
        await sealing
          .migrate(() => activeNodes(this.store))
          .catch((err: Error) => {
            this.logger?.error({ err: err.message }, 'cluster sealing key not made; next start');
          });
      }
      sealing.follow(mine.nodeID);
    }
    await this.elect();
    // A rotation whose follow-up commits a kill -9 cut short: its stale records move now.
    void sealing?.resealStale().then(
      (moved) => moved && this.logger?.info({ moved }, 'sealed records moved to the current key'),
      (err: Error) => this.logger?.warn({ err: err.message }, 'sealed records not moved yet'),
    );
  }

  /** RemoveNodes retired this node: it stops running for master and is pending again. */
  private async left(): Promise<void> {
    if (this.nodeID === undefined || this.selfRecord()) return;
    this.logger?.warn({ nodeID: this.nodeID }, 'this node was removed from the cluster');
    this.nodeID = undefined;
    const election = this.election;
    this.election = undefined;
    await election?.stop();
    this.options.sealing?.forget();
    if (this.options.stateDir) saveLocalNodeID(this.options.stateDir, undefined);
    await this.register();
  }

  /**
   * On a shared store, a node not in the cluster publishes a pending record under a lease of
   * its own, with a pendingNodeID from the counters (never reused; kept when its previous
   * run's record is still there). Retried while the store cannot take it.
   */
  private async register(): Promise<void> {
    if (!this.store.shared || this.closed || this.pendingLease || this.selfRecord()) return;
    try {
      const ttl = this.options.leaseTtlSeconds ?? MASTER_LEASE_TTL_SECONDS;
      const lease = await this.store.grantLease(ttl);
      this.pendingLease = lease;
      lease.onLost((err) => {
        if (this.pendingLease !== lease) return;
        this.pendingLease = undefined;
        this.logger?.warn({ err: err.message }, 'pending registration lost; registering again');
        this.queue(() => this.register());
      });
      const key = pendingNodeKey(this.self.uuid);
      const pendingNodeID =
        this.store.get<PendingNodeRecord>(key)?.value.pendingNodeID ??
        (await this.store.transaction((tx) => {
          const c = counters(tx);
          const id = c.nextPendingNodeID++;
          tx.put(NODE_COUNTERS_KEY, c as unknown as Json);
          return id;
        }));
      const record: PendingNodeRecord = { ...this.self, pendingNodeID };
      await lease.put(key, record as unknown as Json);
      this.logger?.info({ pendingNodeID, mip: this.self.mip }, 'registered as a pending node');
    } catch (err) {
      await this.dropPending();
      if (this.closed) return;
      this.logger?.warn({ err: (err as Error).message }, 'pending registration failed; retrying');
      this.retry = setTimeout(() => this.queue(() => this.register()), REGISTER_RETRY_MS);
      this.retry.unref();
    }
  }

  /** Ends the pending record's lease (its key goes with it, if AddNodes left it). */
  private async dropPending(): Promise<void> {
    const lease = this.pendingLease;
    this.pendingLease = undefined;
    await lease?.revoke().catch((err: Error) => {
      this.logger?.warn({ err: err.message }, 'pending lease not revoked; it expires by itself');
    });
  }

  /** Runs for master once this node is in the cluster; settles after the first try. */
  private async elect(): Promise<void> {
    const mine = this.selfRecord();
    if (this.election || !mine) return;
    const ttlSeconds = this.options.leaseTtlSeconds ?? MASTER_LEASE_TTL_SECONDS;
    this.election = new MasterElection(this.store, mine.nodeID, {
      logger: this.logger,
      ttlSeconds,
      onChange: (leading) => this.masterDuties(leading),
    });
    await this.election.settled();
  }

  /** The master's jobs start when this node starts acting as master, stop when it stops. */
  private masterDuties(leading: boolean): void {
    void this.masterJobs.lead(leading ? this.election?.fence : undefined);
  }

  private refuseUnlessCreated(reader: StoreReader): void {
    if (!created(reader)) {
      throw new ElementError('xClusterNotCreated', 'No cluster exists yet; call CreateCluster.');
    }
  }
}

const created = (reader: StoreReader): boolean => reader.get(CLUSTER_KEY) !== undefined;
