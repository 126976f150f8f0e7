// Which drive records are this node's. Several nodes share one store, each with its own
// drives: a node syncs, unlocks, secures and erases only the records that carry its nodeID.
// This node's nodeID is its record's in nodes/active/ (matched by its UUID); with no node
// recorded (no cluster yet, or one created before nodes were recorded) it is node 1, as a
// single node always is, except on a shared store, where it waits for CreateCluster. A
// node the store's cluster does not list (pending, or removed) has no nodeID and touches no
// drive record.
import type { StoreReader } from '../../store/store';
import { ElementError } from '../errors';
import { activeNodes } from '../nodes/node-records';
import {
  driveNodeID,
  getDrive,
  listDriveRecords,
  SINGLE_NODE_ID,
  type DriveRecord,
} from './drive-records';

export class NodeScope {
  /**
   * `uuid`: this node's (node.json); absent: always node 1 (one node, no node records).
   * `shared`: the store is shared by several nodes (etcd), where a node no cluster lists yet
   * is pending, like the others: which one becomes node 1 is CreateCluster's to say, so none
   * records a drive before it (each would record its drives as node 1's).
   */
  constructor(
    readonly uuid?: string,
    private readonly shared = false,
  ) {}

  /** This node's nodeID now; undefined while the cluster in the store does not list it. */
  nodeID(reader: StoreReader): number | undefined {
    if (this.uuid === undefined) return SINGLE_NODE_ID;
    const nodes = activeNodes(reader);
    if (nodes.length === 0) return this.shared ? undefined : SINGLE_NODE_ID;
    return nodes.find((n) => n.uuid === this.uuid)?.nodeID;
  }

  /** This node's drive records, by driveID (none while it has no nodeID). */
  drives(reader: StoreReader): DriveRecord[] {
    const nodeID = this.nodeID(reader);
    if (nodeID === undefined) return [];
    return listDriveRecords(reader).filter((d) => driveNodeID(d) === nodeID);
  }

  /**
   * The record of a drive of this node; xDriveIDDoesNotExist for an unknown ID, and for
   * another node's drive an error naming the node whose API can act on it.
   */
  ownDrive(reader: StoreReader, driveID: number): DriveRecord {
    const d = getDrive(reader, driveID);
    const owner = driveNodeID(d);
    const self = this.nodeID(reader);
    if (owner === self) return d;
    throw new ElementError(
      'xDriveNotOnThisNode',
      self === undefined
        ? `Drive ${driveID} belongs to node ${owner}; this node is not in the cluster. Call node ${owner}'s API.`
        : `Drive ${driveID} belongs to node ${owner}, not to this node (${self}); call node ${owner}'s API.`,
    );
  }
}

/**
 * Whether `nodeID` is a node of the store's cluster now: one of nodes/active/, or node 1
 * while no node is recorded. A removed node's records are of no node.
 */
export function nodeInCluster(reader: StoreReader, nodeID: number): boolean {
  const nodes = activeNodes(reader);
  return nodes.length === 0 ? nodeID === SINGLE_NODE_ID : nodes.some((n) => n.nodeID === nodeID);
}

/** The scope of a node that is alone with its store: every record is node 1's. */
export const SINGLE_NODE = new NodeScope();
