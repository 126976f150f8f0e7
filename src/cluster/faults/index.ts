// Cluster faults: one table of codes, the fault object and its store layout, the service.
export { FAULT_CODES, type FaultCode, type FaultSeverity, type FaultType } from './fault-codes';
export {
  FAULT_TYPES,
  readFaults,
  type ClusterFault,
  type FaultSubject,
  type FaultTypes,
} from './fault';
export {
  FaultService,
  type FaultChange,
  type FaultFacts,
  type NodeDrivesCode,
} from './fault-service';
