// Store layout of the cluster's nodes, and Element's shapes of them (Node, PendingNode) with
// every member the SolidFire SDK reads. Active nodes are durable records keyed by a nodeID
// that is never reused; a pending node's record is tied to its lease, so a pending node that
// stops drops out of ListPendingNodes by itself (Element: "shutting the node down removes it
// from the pending node list").
import type { Json, StoreReader } from '../../store/store';

export const ACTIVE_NODE_PREFIX = 'nodes/active/';
export const PENDING_NODE_PREFIX = 'nodes/pending/';
/** The next nodeID and pendingNodeID to hand out: neither is ever reused. */
export const NODE_COUNTERS_KEY = 'nodes/counters';
/** Held by the elected cluster master, under its lease. */
export const MASTER_KEY = 'nodes/master';
/** nodes/alive/<nodeID>: held by each running active node, under its session lease. */
export const ALIVE_PREFIX = 'nodes/alive/';

/** What a node says of itself: from its config, its host and its local identity file. */
export interface NodeIdentity {
  /** A UUIDv4 kept in the node's stateDir: the same node across restarts. */
  uuid: string;
  name: string;
  /** Management address (Element's mip). */
  mip: string;
  softwareVersion: string;
  platform: NodePlatform;
  /**
   * The node's X25519 public key (SPKI DER, base64) that the cluster sealing key is wrapped
   * to when the node is added; published in its pending record, kept in its active one.
   */
  sealingKey?: string;
  /** Where the node serves the links between nodes, and the certificate it is pinned to. */
  link?: NodeLinkAddress;
}

/** Where a node serves the links between nodes (cluster/node-link): a port at its mip. */
export interface NodeLinkAddress {
  port: number;
  /** The certificate it presents (PEM): peers trust this one and no other for the node. */
  certificate: string;
}

export interface NodePlatform {
  nodeType: string;
  chassisType: string;
  cpuModel: string;
  nodeMemoryGB: number;
}

export interface NodeRecord extends NodeIdentity {
  nodeID: number;
  /** Cluster and storage addresses (Element's cip, sip): the address CreateCluster named. */
  cip: string;
  sip: string;
  addedAt: string;
}

export interface PendingNodeRecord extends NodeIdentity {
  pendingNodeID: number;
}

export interface NodeCounters {
  nextNodeID: number;
  nextPendingNodeID: number;
}

export interface MasterRecord {
  nodeID: number;
  /** The lease the key is held under: a fenced write checks it is still this master's term. */
  lease?: string;
}

export const activeNodeKey = (nodeID: number): string => `${ACTIVE_NODE_PREFIX}${nodeID}`;
export const aliveKey = (nodeID: number): string => `${ALIVE_PREFIX}${nodeID}`;
export const pendingNodeKey = (uuid: string): string => `${PENDING_NODE_PREFIX}${uuid}`;

export function activeNodes(reader: StoreReader): NodeRecord[] {
  return reader
    .list<NodeRecord>(ACTIVE_NODE_PREFIX)
    .map((e) => e.value)
    .sort((a, b) => a.nodeID - b.nodeID);
}

export function pendingNodes(reader: StoreReader): PendingNodeRecord[] {
  return reader
    .list<PendingNodeRecord>(PENDING_NODE_PREFIX)
    .map((e) => e.value)
    .sort((a, b) => a.pendingNodeID - b.pendingNodeID);
}

export function counters(reader: StoreReader): NodeCounters {
  return (
    reader.get<NodeCounters>(NODE_COUNTERS_KEY)?.value ?? { nextNodeID: 1, nextPendingNodeID: 1 }
  );
}

const MGMT_INTERFACE = 'Bond1G';
const STORAGE_INTERFACE = 'Bond10G';

function platformInfo(p: NodePlatform): { [k: string]: Json } {
  return { ...p, containerized: false };
}

/** Element's Node (ListActiveNodes, ListAllNodes). */
export function nodeView(n: NodeRecord): { [k: string]: Json } {
  return {
    associatedFServiceID: 0,
    associatedMasterServiceID: n.nodeID,
    attributes: {},
    chassisName: n.name,
    cip: n.cip,
    cipi: STORAGE_INTERFACE,
    customProtectionDomainName: '',
    maintenanceMode: 'Disabled',
    mip: n.mip,
    mipi: MGMT_INTERFACE,
    name: n.name,
    nodeID: n.nodeID,
    platformInfo: platformInfo(n.platform),
    role: 'Storage',
    sip: n.sip,
    sipi: STORAGE_INTERFACE,
    softwareVersion: n.softwareVersion,
    uuid: n.uuid,
    virtualNetworks: [],
  };
}

/** Element's PendingNode (ListPendingNodes, ListAllNodes). */
export function pendingNodeView(p: PendingNodeRecord): { [k: string]: Json } {
  return {
    assignedNodeID: 0,
    chassisName: p.name,
    cip: p.mip,
    cipi: STORAGE_INTERFACE,
    compatible: true,
    customProtectionDomainName: '',
    mip: p.mip,
    mipi: MGMT_INTERFACE,
    name: p.name,
    pendingNodeID: p.pendingNodeID,
    platformInfo: platformInfo(p.platform),
    role: 'Storage',
    sip: p.mip,
    sipi: STORAGE_INTERFACE,
    softwareVersion: p.softwareVersion,
    uuid: p.uuid,
  };
}
