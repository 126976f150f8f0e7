// What this node says of itself in the node records: a UUID kept in its stateDir (node.json,
// made at the first start; once the node is in a cluster, also its nodeID), its name and management address (config node.*, else the host
// name and the first non-internal IPv4 address), its platform and ekmd's version.
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, hostname, networkInterfaces, totalmem } from 'node:os';
import { join } from 'node:path';
import { NODE_FILE } from '../../store/state-files';
import { writeFileAtomic } from '../../util/atomic-file';
import { packageVersion } from '../../util/package-version';
import type { NodeIdentity } from './node-records';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export interface NodeSettings {
  name?: string;
  ip?: string;
}

/**
 * This node's identity. Without a stateDir (an API served over a store alone) the UUID is
 * derived from the host name: stable, and the same for every such server on one host.
 */
export function nodeIdentity(
  stateDir: string | undefined,
  settings: NodeSettings = {},
): NodeIdentity {
  return {
    uuid: stateDir ? stateNodeUuid(stateDir) : hostUuid(),
    name: settings.name ?? hostname(),
    mip: settings.ip ?? firstAddress(),
    softwareVersion: packageVersion() ?? 'unknown',
    platform: {
      nodeType: 'ekmd',
      chassisType: 'ekmd',
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      nodeMemoryGB: Math.round(totalmem() / 2 ** 30),
    },
  };
}

/** The UUID in stateDir/node.json; made (atomically, synced) when absent or unreadable. */
function stateNodeUuid(stateDir: string): string {
  const path = join(stateDir, NODE_FILE);
  // Absent or garbled: a new identity (the node records match nodes by it).
  const recorded = readNodeFile(stateDir).uuid;
  if (typeof recorded === 'string' && UUID.test(recorded)) return recorded;
  const uuid = randomUUID();
  writeFileAtomic(path, `${JSON.stringify({ uuid })}\n`, 0o600);
  return uuid;
}

/** The nodeID node.json keeps: this node's place in the cluster, as last seen. */
export function localNodeID(stateDir: string): number | undefined {
  const { nodeID } = readNodeFile(stateDir);
  return typeof nodeID === 'number' && Number.isInteger(nodeID) ? nodeID : undefined;
}

/**
 * Keeps this node's nodeID (undefined: none, it left the cluster) beside its UUID in
 * node.json, atomically, so that the node knows its place without the store.
 */
export function saveLocalNodeID(stateDir: string, nodeID: number | undefined): void {
  const current = readNodeFile(stateDir);
  if (current.nodeID === nodeID) return;
  const uuid = stateNodeUuid(stateDir);
  const body = nodeID === undefined ? { uuid } : { uuid, nodeID };
  writeFileAtomic(join(stateDir, NODE_FILE), `${JSON.stringify(body)}\n`, 0o600);
}

function readNodeFile(stateDir: string): { uuid?: unknown; nodeID?: unknown } {
  try {
    return JSON.parse(readFileSync(join(stateDir, NODE_FILE), 'utf8')) as object;
  } catch {
    return {};
  }
}

function hostUuid(): string {
  const h = createHash('sha256').update(`ekmd node ${hostname()}`).digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function firstAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
