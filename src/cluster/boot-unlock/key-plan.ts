// What the next boot needs to unlock the drives before it has opened the store, kept beside
// the store (key-plan.json): per key provider holding a drive's AK, its servers (endpoints,
// CA, client certificate, the KMIP version they settled on); per drive under hardware EAR
// with its AK at a provider, its serial, device path, keyID, provider, KMIP UID and key
// check value (an HMAC under the AK: not secret); the TryLimit guards of this boot; and
// the cluster's private key sealed as in the store. Per drive whose internal AK is sealed
// under the split drive-access key (DAK), the sealed AK as the store holds it, with this
// node's share as the store holds it (wrapped to the node's X25519 key), the split's
// generation, holders and check value, and the peers' link endpoints with their pinned
// certificates (split-key-plan.ts). Nothing in it is secret in clear, and this node's
// files with it open only one share: the AKs still take a peer's.
// The early unlock (early-unlock.ts) follows it; the store stays the truth, and its first
// round covers whatever the plan got wrong.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../../store/store';
import type { ClusterKeyPair } from '../key-pair';
import { serversOfProvider, type KeyServerRecord } from '../key-servers/kmip-records';
import { rememberedVersion } from '../key-servers/kmip-versions';
import { KEY_PLAN_FORMAT as FORMAT } from './key-plan-schema';
import type { KeyedDrive } from './round-drives';
import type { TryGuard } from './try-guard';
import { writeFileAtomic } from '../../util/atomic-file';
import { plannedSplitKey, type PlannedSplitKey, type SplitKeyHolder } from './split-key-plan';

export const KEY_PLAN_FILE = 'key-plan.json';

export type PlannedServer = Pick<
  KeyServerRecord,
  | 'keyServerID'
  | 'kmipKeyServerHostnames'
  | 'kmipKeyServerPort'
  | 'kmipCaCertificate'
  | 'kmipClientCertificate'
> & { version?: string };

export interface PlannedProvider {
  keyProviderID: number;
  /** In the order the provider's client tries them. */
  servers: PlannedServer[];
}

/** What unlocking one drive takes, its key aside. */
export interface PlannedDrive {
  driveID: number;
  serial: string;
  /** What the DriveTransport opens. */
  path: string;
  keyID: string;
  keyProviderID: number;
  kmipUID: string;
  /** hex HMAC-SHA256 under the AK of the serial (drive-keys.ts). */
  keyCheckValue: string;
}

/** A TryLimit guard of this boot: that key is not offered to that drive again. */
export interface PlannedGuard {
  driveID: number;
  keyID: string;
  keyCheckValue: string;
  bootID: string;
}

export interface KeyPlan {
  /** 2 in a file an older ekmd wrote (no splitKey, a sealedPrivateKey always). */
  format: typeof FORMAT | 2;
  /** The cluster's private key as the store holds it (sealed, base64); absent without providers. */
  sealedPrivateKey?: string;
  providers: PlannedProvider[];
  /** By driveID: those whose AK is at a provider. */
  drives: PlannedDrive[];
  guards: PlannedGuard[];
  /** The drives whose AK is sealed under the split drive-access key, and what opens them. */
  splitKey?: PlannedSplitKey;
}

/**
 * The plan for the drives `keyed` whose AK is at a provider with servers, and (given
 * `holder`, this node on a shared store) those whose AK is sealed under the split DAK, with
 * the guards of the boot `bootID`; undefined when there is no such drive.
 */
export function planFromStore(
  store: Store,
  keyPair: ClusterKeyPair,
  keyed: KeyedDrive[],
  guards: ReadonlyMap<number, TryGuard>,
  bootID: string,
  holder?: SplitKeyHolder,
): KeyPlan | undefined {
  const sealedPrivateKey = keyPair.sealedPrivateKey();
  const providers = new Map<number, PlannedProvider | undefined>();
  const drives: PlannedDrive[] = [];
  for (const { drive, key } of sealedPrivateKey ? keyed : []) {
    if (key.keyProviderID === null || !key.kmipUID) continue;
    const id = key.keyProviderID;
    if (!providers.has(id)) providers.set(id, plannedProvider(store, id));
    if (!providers.get(id)) continue;
    drives.push({
      driveID: drive.driveID,
      serial: key.serial,
      path: drive.path,
      keyID: key.keyID,
      keyProviderID: id,
      kmipUID: key.kmipUID,
      keyCheckValue: key.keyCheckValue,
    });
  }
  const splitKey = holder && plannedSplitKey(store, holder, keyed);
  if (drives.length === 0 && !splitKey) return undefined;
  const planned = new Set([...drives, ...(splitKey?.drives ?? [])].map((d) => d.driveID));
  return {
    format: FORMAT,
    ...(drives.length ? { sealedPrivateKey: sealedPrivateKey! } : {}),
    providers: [...providers.values()]
      .filter((p): p is PlannedProvider => !!p)
      .sort((a, b) => a.keyProviderID - b.keyProviderID),
    drives: drives.sort((a, b) => a.driveID - b.driveID),
    guards: [...guards]
      .filter(([driveID, g]) => planned.has(driveID) && g.bootID === bootID)
      .map(([driveID, g]) => ({
        driveID,
        keyID: g.keyID,
        keyCheckValue: g.keyCheckValue,
        bootID: g.bootID,
      }))
      .sort((a, b) => a.driveID - b.driveID),
    ...(splitKey ? { splitKey } : {}),
  };
}

function plannedProvider(store: Store, keyProviderID: number): PlannedProvider | undefined {
  const servers = serversOfProvider(store, keyProviderID).map((s) => {
    const version = rememberedVersion(store, s);
    return {
      keyServerID: s.keyServerID,
      kmipKeyServerHostnames: s.kmipKeyServerHostnames,
      kmipKeyServerPort: s.kmipKeyServerPort,
      kmipCaCertificate: s.kmipCaCertificate,
      kmipClientCertificate: s.kmipClientCertificate,
      ...(version ? { version } : {}),
    };
  });
  return servers.length ? { keyProviderID, servers } : undefined;
}

/** The plan in `text` when `validate` (keyPlanSchema's) accepts it; undefined otherwise. */
export function parseKeyPlan(
  text: string,
  validate: (data: unknown) => boolean,
): KeyPlan | undefined {
  if (!text) return undefined;
  try {
    const plan = JSON.parse(text) as unknown;
    return validate(plan) ? (plan as KeyPlan) : undefined;
  } catch {
    return undefined;
  }
}

/** The plan's file content, for writeKeyPlan and to tell whether it changed. */
export const keyPlanText = (plan: KeyPlan | undefined): string =>
  plan ? `${JSON.stringify(plan)}\n` : '';

/**
 * Replaces the plan in `stateDir` whole (written, synced, renamed; 0600), or removes it
 * when there is none. A failure leaves the old file or none, never half of one.
 */
export function writeKeyPlan(stateDir: string, plan: KeyPlan | undefined): void {
  const file = join(stateDir, KEY_PLAN_FILE);
  if (!plan) {
    rmSync(file, { force: true });
    return;
  }
  writeFileAtomic(file, keyPlanText(plan), 0o600);
}

/** The plan file's text, '' when there is none. */
export function readKeyPlanText(stateDir: string): string {
  try {
    return readFileSync(join(stateDir, KEY_PLAN_FILE), 'utf8');
  } catch {
    return '';
  }
}
