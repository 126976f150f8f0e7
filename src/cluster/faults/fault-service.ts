// Cluster faults, Element style. The service that observes a condition calls raise() every
// time it sees it and resolve() once it is gone; this keeps one current fault per code and
// subject, updated in place when its details change, so retry rounds never duplicate a
// fault. A resolved or cleared fault is history: the next raise() of the same code and
// subject is a new fault with a new clusterFaultID. Each change is one store transaction
// (or a step of the caller's, with the *In variants, so a fault commits with the change
// that causes it).
import type { Logger } from 'pino';
import type { Json, Store, StoreChange, StoreTx } from '../../store/store';
import { FAULT_CODES, isFaultCode, type FaultCode } from './fault-codes';
import {
  CURRENT_PREFIX,
  NEXT_ID_KEY,
  RECORD_PREFIX,
  currentKey,
  isPositiveInteger,
  readFaults,
  recordKey,
  type ClusterFault,
  type FaultSubject,
  type FaultTypes,
} from './fault';

/** What a fault reports besides its details text. */
export interface FaultFacts {
  /** The drives concerned (e.g. a node's failed drives). */
  driveIDs?: number[];
  /** Fault-specific extra information; never key material or credentials. */
  data?: { [k: string]: Json };
}

/** Codes reported per node as a set of drives with Element's "Node ID n has …" details. */
export type NodeDrivesCode = 'driveFailed' | 'driveAvailable';

export type FaultChange =
  | { change: 'raised' | 'updated' | 'resolved'; fault: ClusterFault }
  | { change: 'cleared'; clusterFaultID: number };

const MAX_DETAILS = 1000;

export class FaultService {
  private readonly listeners = new Set<(change: FaultChange) => void>();
  private readonly unwatch: () => void;
  /** The highest fault ID announced: IDs are never reused, so a higher one is a new fault. */
  private highestID: number;

  constructor(
    private readonly store: Store,
    private readonly logger?: Logger,
  ) {
    this.highestID = store.get<number>(NEXT_ID_KEY)?.value ?? 0;
    // Changes are announced from the store's watch: only once committed, in commit order.
    this.unwatch = store.watch(RECORD_PREFIX, (event) => this.announce(event));
  }

  /** Raises the fault of (code, subject), or updates it in place; no write if unchanged. */
  raise(
    code: FaultCode,
    subject: FaultSubject,
    details: string,
    facts?: FaultFacts,
  ): Promise<ClusterFault> {
    return this.store.transaction((tx) => this.raiseIn(tx, code, subject, details, facts));
  }

  raiseIn(
    tx: StoreTx,
    code: FaultCode,
    subject: FaultSubject,
    details: string,
    facts: FaultFacts = {},
  ): ClusterFault {
    if (!isFaultCode(code)) throw new Error(`unknown fault code ${String(code)}`);
    const info = FAULT_CODES[code];
    const identity = currentKey(code, info.per, subject);
    // Element: driveID is the first of driveIDs; a fault about one drive lists that drive.
    const driveIDs = checkedDriveIDs(facts.driveIDs ?? (subject.driveID ? [subject.driveID] : []));
    const reported = {
      details: cleanDetails(details),
      driveIDs,
      driveID: subject.driveID ?? driveIDs[0] ?? 0,
      nodeID: subject.nodeID ?? 0,
      serviceID: subject.serviceID ?? 0,
      data: faultData(subject, facts),
    };
    const current = this.currentIn(tx, identity);
    if (current) {
      const updated: ClusterFault = { ...current, ...reported };
      if (JSON.stringify(updated) !== JSON.stringify(current)) {
        tx.put(recordKey(current.clusterFaultID), toJson(updated));
      }
      return updated;
    }
    const clusterFaultID = (tx.get<number>(NEXT_ID_KEY)?.value ?? 0) + 1;
    // Members in Element's (alphabetical) order, as its replies list them.
    const fault: ClusterFault = {
      blocksUpgrade: info.blocksUpgrade,
      clusterFaultID,
      code,
      data: reported.data,
      date: new Date().toISOString(),
      details: reported.details,
      driveID: reported.driveID,
      driveIDs: reported.driveIDs,
      externalSource: '',
      networkInterface: '',
      nodeHardwareFaultID: 0,
      nodeID: reported.nodeID,
      resolved: false,
      resolvedDate: '',
      serviceID: reported.serviceID,
      severity: info.severity,
      type: info.type,
    };
    tx.put(NEXT_ID_KEY, clusterFaultID);
    tx.put(recordKey(clusterFaultID), toJson(fault));
    tx.put(identity, { clusterFaultID });
    return fault;
  }

  /** Marks the current fault of (code, subject) resolved; undefined when there is none. */
  resolve(code: FaultCode, subject: FaultSubject): Promise<ClusterFault | undefined> {
    return this.store.transaction((tx) => this.resolveIn(tx, code, subject));
  }

  resolveIn(tx: StoreTx, code: FaultCode, subject: FaultSubject): ClusterFault | undefined {
    if (!isFaultCode(code)) throw new Error(`unknown fault code ${String(code)}`);
    const identity = currentKey(code, FAULT_CODES[code].per, subject);
    const current = this.currentIn(tx, identity);
    tx.delete(identity);
    if (!current) return undefined;
    const resolved = { ...current, resolved: true, resolvedDate: new Date().toISOString() };
    tx.put(recordKey(current.clusterFaultID), toJson(resolved));
    return resolved;
  }

  /**
   * A node's failed (or available) drives as Element reports them: one fault per node
   * listing driveIDs, "Node ID 1 has 2 failed drive(s)."; resolved once the set is empty.
   */
  reportNodeDrives(
    code: NodeDrivesCode,
    nodeID: number,
    driveIDs: number[],
  ): Promise<ClusterFault | undefined> {
    return this.store.transaction((tx) => this.reportNodeDrivesIn(tx, code, nodeID, driveIDs));
  }

  reportNodeDrivesIn(
    tx: StoreTx,
    code: NodeDrivesCode,
    nodeID: number,
    driveIDs: number[],
  ): ClusterFault | undefined {
    if (driveIDs.length === 0) return this.resolveIn(tx, code, { nodeID });
    const ids = checkedDriveIDs(driveIDs);
    const state = code === 'driveFailed' ? 'failed' : 'available';
    const details = `Node ID ${nodeID} has ${ids.length} ${state} drive(s).`;
    return this.raiseIn(tx, code, { nodeID }, details, { driveIDs: ids });
  }

  /** ListClusterFaults: oldest first. */
  list(faultTypes: FaultTypes = 'all'): ClusterFault[] {
    return readFaults(this.store, faultTypes);
  }

  /**
   * ClearClusterFaults: forgets the faults of `faultTypes` in one transaction. A current
   * fault cleared while its cause persists comes back, with a new ID, at its next raise().
   */
  async clear(faultTypes: FaultTypes = 'resolved'): Promise<number> {
    const cleared = await this.store.transaction((tx) => {
      const gone = readFaults(tx, faultTypes);
      for (const fault of gone) tx.delete(recordKey(fault.clusterFaultID));
      const ids = new Set(gone.map((f) => f.clusterFaultID));
      for (const entry of tx.list<{ clusterFaultID: number }>(CURRENT_PREFIX)) {
        if (ids.has(entry.value.clusterFaultID)) tx.delete(entry.key);
      }
      return gone.length;
    });
    if (cleared > 0) this.logger?.info({ faultTypes, cleared }, 'cluster faults cleared');
    return cleared;
  }

  /** Called after each committed change of a fault; returns an unsubscribe. */
  onChange(fn: (change: FaultChange) => void): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  close(): void {
    this.unwatch();
    this.listeners.clear();
  }

  private currentIn(tx: StoreTx, identity: string): ClusterFault | undefined {
    const pointer = tx.get<{ clusterFaultID: number }>(identity);
    if (!pointer) return undefined;
    const fault = tx.get<ClusterFault>(recordKey(pointer.value.clusterFaultID))?.value;
    return fault && !fault.resolved ? fault : undefined;
  }

  private announce(event: StoreChange): void {
    const change = this.toChange(event);
    if (change.change === 'cleared') {
      this.logger?.debug({ clusterFaultID: change.clusterFaultID }, 'cluster fault cleared');
    } else {
      const { clusterFaultID, code, severity, details } = change.fault;
      const log = { clusterFaultID, code, severity, details };
      if (change.change === 'resolved') this.logger?.info(log, 'cluster fault resolved');
      else this.logger?.warn(log, `cluster fault ${change.change}`);
    }
    for (const fn of this.listeners) {
      try {
        fn(change);
      } catch (err) {
        // A listener (metrics, status) must not break the service that raised the fault.
        this.logger?.error({ err }, 'cluster fault listener failed');
      }
    }
  }

  private toChange(event: StoreChange): FaultChange {
    if (event.type === 'delete') {
      return { change: 'cleared', clusterFaultID: Number(event.key.slice(RECORD_PREFIX.length)) };
    }
    const fault = event.value as unknown as ClusterFault;
    if (fault.clusterFaultID > this.highestID) {
      this.highestID = fault.clusterFaultID;
      return { change: 'raised', fault };
    }
    return { change: fault.resolved ? 'resolved' : 'updated', fault };
  }
}

function faultData(subject: FaultSubject, facts: FaultFacts): ClusterFault['data'] {
  if (subject.keyServerID === undefined) return facts.data ?? null;
  return { keyServerID: subject.keyServerID, ...facts.data };
}

/** Sorted, without repeats; a bad ID is the caller's bug, not an operator's input. */
function checkedDriveIDs(driveIDs: number[]): number[] {
  for (const id of driveIDs) {
    if (!isPositiveInteger(id)) throw new Error(`fault driveIDs: ${String(id)} is not a drive ID`);
  }
  return [...new Set(driveIDs)].sort((a, b) => a - b);
}

/** One line of readable text: control characters would garble logs and CLI tables. */
function cleanDetails(details: string): string {
  const text = details.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  if (text.length === 0) throw new Error('a fault needs details');
  return text.length > MAX_DETAILS ? `${text.slice(0, MAX_DETAILS - 1)}…` : text;
}

const toJson = (fault: ClusterFault): Json => fault as unknown as Json;
