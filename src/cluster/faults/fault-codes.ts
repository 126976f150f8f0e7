// Every cluster fault code ekmd raises, in ONE table: Element's code, its severity and type,
// whether it blocks an upgrade, and what one fault stands for (its subject).
//
// Element documents few of these. Where it is silent the choice is OURS, and the reason is
// written beside it:
// - severities of kmipServerFault, kmipCertificateFault and driveFailed are undocumented;
// - types of kmipServerFault and kmipCertificateFault are undocumented;
// - blocksUpgrade is documented for no code here;
// - subjects (one current fault per code and subject) follow Element's examples where it has
//   them (driveFailed/driveAvailable per node with driveIDs, "Node ID 1 has 2 failed
//   drive(s).") and are ours otherwise.

export type FaultSeverity = 'warning' | 'error' | 'critical' | 'bestPractice';
export type FaultType = 'node' | 'drive' | 'cluster' | 'service' | 'volume';

/** What one fault of a code is about: the subject member that tells two faults apart. */
export type FaultSubjectKind = 'node' | 'service' | 'keyServer' | 'cluster';

export interface FaultCodeInfo {
  severity: FaultSeverity;
  type: FaultType;
  blocksUpgrade: boolean;
  per: FaultSubjectKind;
}

export const FAULT_CODES = {
  // Ours: 'error' — I/O goes on from drives already unlocked, but drives cannot be
  // unlocked, keys created or rekeyed (Element: "service OK but degraded; features may be
  // disabled"). Locked drives are reported beside it by driveFailed. Type 'cluster': a key
  // server serves the whole cluster. Blocks upgrades (ours): an upgrade restarts nodes,
  // and a restarted node could not unlock its drives.
  kmipServerFault: { severity: 'error', type: 'cluster', blocksUpgrade: true, per: 'keyServer' },
  // Ours: 'warning' — a certificate nearing expiry still works; once one has expired the
  // TLS handshake fails and kmipServerFault ('error') is raised beside it.
  kmipCertificateFault: {
    severity: 'warning',
    type: 'cluster',
    blocksUpgrade: false,
    per: 'keyServer',
  },
  // Ours: 'warning', as in every Element example of this code; per node with driveIDs.
  driveFailed: { severity: 'warning', type: 'drive', blocksUpgrade: false, per: 'node' },
  // Element's example: warning, type drive, per node.
  driveAvailable: { severity: 'warning', type: 'drive', blocksUpgrade: false, per: 'node' },
  // Element: warning during the decommissioning window, type service; per slice service.
  sliceServiceUnhealthy: {
    severity: 'warning',
    type: 'service',
    blocksUpgrade: false,
    per: 'service',
  },
  // Element: warning. Per node with driveIDs, like driveFailed (ours).
  enableDriveSecurityFailed: {
    severity: 'warning',
    type: 'drive',
    blocksUpgrade: false,
    per: 'node',
  },
  disableDriveSecurityFailed: {
    severity: 'warning',
    type: 'drive',
    blocksUpgrade: false,
    per: 'node',
  },
  // Element: type node, per node. Severity ours: 'error' — the node's drives and its API are
  // out of the cluster's reach. Blocks upgrades (ours): a rolling upgrade would take a
  // second node down while one is already gone. Raised by the master (cluster/nodes).
  nodeOffline: { severity: 'error', type: 'node', blocksUpgrade: true, per: 'node' },
  // Element: an ensemble node lost network or power. Type cluster, one for the cluster
  // (ours), its details naming each unhealthy member. Severity ours: 'error' — one more
  // loss and the store refuses writes. Raised by the master (cluster/nodes).
  ensembleDegraded: { severity: 'error', type: 'cluster', blocksUpgrade: true, per: 'cluster' },
} as const satisfies Record<string, FaultCodeInfo>;

export type FaultCode = keyof typeof FAULT_CODES;

export function isFaultCode(code: string): code is FaultCode {
  return Object.hasOwn(FAULT_CODES, code);
}
