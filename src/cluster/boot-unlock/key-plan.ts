// What the next boot will ask its key servers for, kept beside the store (key-plan.json)
// so that a start can send for the drives' keys before it has loaded the store: per key
// provider holding a drive's AK, its servers (endpoints, CA, client certificate, the KMIP
// version they settled on) and the AKs' UIDs, with the cluster's private key sealed as in
// the store. Nothing in it is secret in clear. A cache, not state: a start uses what it
// fetched only when the store, once open, names the same servers and key pair, and the
// round still takes only keys that match their key check values.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../../store/store';
import { uidsByProvider, type DriveKeyRecord } from '../drive-keys/drive-keys';
import type { KeyAnswers } from './fetch-keys';
import type { ClusterKeyPair } from '../key-pair';
import { serversOfProvider, type KeyServerRecord } from '../key-servers/kmip-records';
import { rememberedVersion } from '../key-servers/kmip-versions';
import { KEY_PLAN_FORMAT as FORMAT } from './key-plan-schema';
import { writeFileAtomic } from '../../util/atomic-file';

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
  uids: string[];
}

export interface KeyPlan {
  format: typeof FORMAT;
  /** The cluster's private key as the store holds it (sealed, base64). */
  sealedPrivateKey: string;
  providers: PlannedProvider[];
}

/** Keys sent for by following a plan before the store opened (daemon/early-keys.ts). */
export interface EarlyRequest {
  plan: KeyPlan;
  /** The plan file's text as read. */
  text: string;
  /** performance.now() when the request was sent. */
  at: number;
  answers: Promise<KeyAnswers | undefined>;
}

/** The plan for the external keys among `records`; undefined when there are none. */
export function planFromStore(
  store: Store,
  keyPair: ClusterKeyPair,
  records: DriveKeyRecord[],
): KeyPlan | undefined {
  const sealedPrivateKey = keyPair.sealedPrivateKey();
  const uids = uidsByProvider(records);
  const providers: PlannedProvider[] = [];
  for (const [keyProviderID, group] of [...uids].sort((a, b) => a[0] - b[0])) {
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
    if (servers.length) providers.push({ keyProviderID, servers, uids: group });
  }
  if (!sealedPrivateKey || providers.length === 0) return undefined;
  return { format: FORMAT, sealedPrivateKey, providers };
}

/**
 * Whether keys fetched by following `used` may stand for `current`'s: the same key pair,
 * and every provider in both asked the same servers in the same order. (Which UIDs the
 * answers cover is the round's to check; the versions only saved a round trip.)
 */
export function sameServers(used: KeyPlan, current: KeyPlan): boolean {
  if (used.sealedPrivateKey !== current.sealedPrivateKey) return false;
  const now = new Map(current.providers.map((p) => [p.keyProviderID, p.servers]));
  return used.providers.every((p) => {
    const servers = now.get(p.keyProviderID);
    return (
      !!servers &&
      JSON.stringify(p.servers.map(withoutVersion)) === JSON.stringify(servers.map(withoutVersion))
    );
  });
}

const withoutVersion = ({ version: _version, ...rest }: PlannedServer) => rest;

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
