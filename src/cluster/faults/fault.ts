// Element's fault object and where faults live in the store. The layout is meant to be
// read without the daemon (`ekmctl faults` on a read-only store) and watched by prefix:
//   faults/records/<clusterFaultID, 10 digits>  the fault, exactly Element's members
//   faults/current/<code>/<subject>             {clusterFaultID} of its unresolved fault
//   faults/nextID                               the last clusterFaultID handed out
import type { Json, StoreTx } from '../../store/store';
import type { FaultCode, FaultSeverity, FaultSubjectKind, FaultType } from './fault-codes';

/** Element's fault object (reference §6): every member, always present. */
export interface ClusterFault {
  blocksUpgrade: boolean;
  clusterFaultID: number;
  code: FaultCode;
  data: { [k: string]: Json } | null;
  /** When detected (ISO 8601 UTC); unchanged by updates in place. */
  date: string;
  details: string;
  /** The first of driveIDs, else 0. */
  driveID: number;
  driveIDs: number[];
  externalSource: string;
  networkInterface: string;
  nodeHardwareFaultID: number;
  nodeID: number;
  resolved: boolean;
  /** '' while unresolved. */
  resolvedDate: string;
  serviceID: number;
  severity: FaultSeverity;
  type: FaultType;
}

/** Which thing a fault is about. The member its code is `per` (fault-codes.ts) is required. */
export interface FaultSubject {
  nodeID?: number;
  serviceID?: number;
  driveID?: number;
  /** Not an Element member: reported in the fault's `data`. */
  keyServerID?: number;
}

/** Element's faultTypes filter of ListClusterFaults and ClearClusterFaults. */
export const FAULT_TYPES = ['current', 'resolved', 'all'] as const;
export type FaultTypes = (typeof FAULT_TYPES)[number];

export const RECORD_PREFIX = 'faults/records/';
export const CURRENT_PREFIX = 'faults/current/';
export const NEXT_ID_KEY = 'faults/nextID';

export const recordKey = (clusterFaultID: number): string =>
  `${RECORD_PREFIX}${String(clusterFaultID).padStart(10, '0')}`;

const SUBJECT_MEMBER: Record<Exclude<FaultSubjectKind, 'cluster'>, keyof FaultSubject> = {
  node: 'nodeID',
  service: 'serviceID',
  keyServer: 'keyServerID',
};

/** faults/current/<code>/<kind>-<id> (or /cluster): the one current fault of a code and subject. */
export function currentKey(code: FaultCode, per: FaultSubjectKind, subject: FaultSubject): string {
  if (per === 'cluster') return `${CURRENT_PREFIX}${code}/cluster`; // one for the cluster
  const member = SUBJECT_MEMBER[per];
  if (subject[member] === undefined) throw new Error(`fault ${code} needs ${member}`);
  for (const [name, id] of Object.entries(subject)) {
    if (id !== undefined && !isPositiveInteger(id)) {
      throw new Error(`fault ${code}: ${name} ${String(id)} is not a positive integer`);
    }
  }
  return `${CURRENT_PREFIX}${code}/${per}-${subject[member]}`;
}

export function isPositiveInteger(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) > 0;
}

export function matchesTypes(fault: ClusterFault, faultTypes: FaultTypes): boolean {
  if (faultTypes === 'all') return true;
  return fault.resolved === (faultTypes === 'resolved');
}

/** The faults of `faultTypes`, oldest first; works on a read-only store too. */
export function readFaults(reader: Pick<StoreTx, 'list'>, faultTypes: FaultTypes): ClusterFault[] {
  return reader
    .list<ClusterFault>(RECORD_PREFIX)
    .map((e) => e.value)
    .filter((f) => matchesTypes(f, faultTypes));
}
