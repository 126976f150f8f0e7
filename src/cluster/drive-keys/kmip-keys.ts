// Drive AKs at a KMIP key provider, in batches: a constant number of messages per
// provider, not per drive — Register Secret Data/Password for every drive, Activate them
// all, Get them all, Revoke and Destroy them all. The Name carries
// the cluster uuid, the drive serial and the keyID, so a key can be found without custom
// attributes (PyKMIP refuses x- attributes); the Object Group gathers a cluster's keys.
import type { Logger } from 'pino';
import {
  KmipProvider,
  ops,
  parseVersion,
  type FetchedObject,
  type KmipServerOptions,
} from '../../kmip/client';
import type { StoreReader } from '../../store/store';
import { ElementError } from '../errors';
import type { ClusterKeyPair } from '../key-pair';
import { getProvider, serversOfProvider, type KeyServerRecord } from '../key-servers/kmip-records';
import { versionMemory } from '../key-servers/kmip-versions';
import type { NewDriveKey } from './drive-keys';

export interface KmipSettings {
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** "1.4" etc.: pin the version instead of negotiating. */
  version?: string;
}

export const akName = (clusterUuid: string, key: { serial: string; keyID: string }): string =>
  `ekmd-AK cluster=${clusterUuid} serial=${key.serial} keyID=${key.keyID}`;
const AK_NAME = /^ekmd-AK cluster=(\S+) serial=(\S+) keyID=(\S+)$/;

/** The parts of an AK Name akName made; undefined for objects named otherwise. */
export function parseAkName(
  name: string,
): { clusterUuid: string; serial: string; keyID: string } | undefined {
  const m = AK_NAME.exec(name);
  return m ? { clusterUuid: m[1]!, serial: m[2]!, keyID: m[3]! } : undefined;
}

export const clusterGroup = (clusterUuid: string): string => `ekmd-cluster-${clusterUuid}`;

/** A client for the provider's servers, authenticating as the cluster. */
export function openProvider(
  tx: StoreReader,
  keyPair: ClusterKeyPair,
  keyProviderID: number,
  settings: KmipSettings,
  logger?: Logger,
): KmipProvider {
  getProvider(tx, keyProviderID);
  const servers = serversOfProvider(tx, keyProviderID);
  if (servers.length === 0) {
    throw new ElementError(
      'xKeyProviderHasNoServers',
      `Key provider ${keyProviderID} has no key servers; add one with AddKeyServerToProviderKmip.`,
    );
  }
  // A copy the provider zeroes when it closes (a string could not be zeroed).
  const key = keyPair.withPrivateKeyPem((pem) => Buffer.from(pem));
  return providerFor(servers, key, settings, {
    versionOf: (s) => versionMemory(tx, s),
    ...(logger ? { logger } : {}),
  });
}

/** Where a key server is and how it is trusted: what a client needs of its record. */
export type ServerEndpoint = Pick<
  KeyServerRecord,
  'kmipKeyServerHostnames' | 'kmipKeyServerPort' | 'kmipCaCertificate' | 'kmipClientCertificate'
>;

/**
 * A client for `servers` in this order, presenting the private key `key` (PEM), which it
 * owns from here: zeroed when the provider closes, or at once when it cannot be made.
 */
export function providerFor<S extends ServerEndpoint>(
  servers: S[],
  key: Buffer,
  settings: KmipSettings,
  options: {
    logger?: Logger;
    /** The version to start with (and what to do once one is negotiated), per server. */
    versionOf?: (server: S) => Pick<KmipServerOptions, 'knownVersion' | 'onNegotiated'>;
  } = {},
): KmipProvider {
  const { logger } = options;
  const version = settings.version ? parseVersion(settings.version) : undefined;
  try {
    return new KmipProvider(
      servers.map((s) => ({
        hostnames: s.kmipKeyServerHostnames,
        port: s.kmipKeyServerPort,
        ca: s.kmipCaCertificate,
        cert: s.kmipClientCertificate,
        key,
        connectTimeoutMs: settings.connectTimeoutMs,
        requestTimeoutMs: settings.requestTimeoutMs,
        ...(version ? { version } : options.versionOf?.(s)),
        ...(logger ? { logger } : {}),
      })),
      { zeroOnClose: [key], ...(logger ? { logger } : {}) },
    );
  } catch (err) {
    key.fill(0);
    throw err;
  }
}

export type Registered = { ok: true; uid: string } | { ok: false; reason: string };

/**
 * Register every AK in one message, then Activate them all in a second (PyKMIP's Activate
 * requires a Unique Identifier, so the ID placeholder cannot join them in one message).
 * Per keyID, its UID or why not.
 */
export async function registerAks(
  provider: KmipProvider,
  clusterUuid: string,
  keys: NewDriveKey[],
): Promise<Map<string, Registered>> {
  const registered = await provider.batch(
    keys.map((k) =>
      ops.registerSecretData(k.ak, {
        names: [akName(clusterUuid, k)],
        objectGroups: [clusterGroup(clusterUuid)],
      }),
    ),
  );
  const outcome = new Map<string, Registered>();
  const uids: { keyID: string; uid: string }[] = [];
  keys.forEach((k, i) => {
    const r = registered.results[i]!;
    if (r.ok) uids.push({ keyID: k.keyID, uid: r.value });
    else outcome.set(k.keyID, { ok: false, reason: r.error.message });
  });
  if (uids.length === 0) return outcome;
  const activated = await provider.batch(uids.map((u) => ops.activate(u.uid)));
  const orphans: string[] = [];
  uids.forEach((u, i) => {
    const r = activated.results[i]!;
    if (r.ok) outcome.set(u.keyID, { ok: true, uid: u.uid });
    else {
      orphans.push(u.uid);
      outcome.set(u.keyID, { ok: false, reason: r.error.message });
    }
  });
  // Registered but never activated: pre-active objects can be destroyed outright.
  if (orphans.length) await provider.batch(orphans.map((uid) => ops.destroy(uid)));
  return outcome;
}

/** Get every AK in one message; each Buffer is the caller's to zero. */
export async function fetchAks(
  provider: KmipProvider,
  uids: string[],
): Promise<Map<string, Buffer | Error>> {
  const out = new Map<string, Buffer | Error>();
  if (uids.length === 0) return out;
  const { results } = await provider.batch(uids.map((u) => ops.get(u)));
  uids.forEach((uid, i) => {
    const r = results[i]!;
    out.set(uid, r.ok ? (r.value as FetchedObject).material : r.error);
  });
  return out;
}

/** The AKs `uids` of one provider: one batched Get over one connection, closed after. */
export async function fetchAksFrom(
  deps: { store: StoreReader; keyPair: ClusterKeyPair; kmip: KmipSettings; logger?: Logger },
  keyProviderID: number,
  uids: string[],
): Promise<Map<string, Buffer | Error>> {
  const provider = openProvider(deps.store, deps.keyPair, keyProviderID, deps.kmip, deps.logger);
  try {
    return await fetchAks(provider, uids);
  } finally {
    provider.close();
  }
}

/** Locate AKs by Name (one Locate per key, in one message): every UID found. */
export async function findAks(
  provider: KmipProvider,
  clusterUuid: string,
  keys: { serial: string; keyID: string }[],
): Promise<string[]> {
  if (keys.length === 0) return [];
  const { results } = await provider.batch(
    keys.map((k) => ops.locate({ names: [akName(clusterUuid, k)] })),
  );
  return results.flatMap((r) => {
    if (!r.ok) throw r.error;
    return r.value;
  });
}

/** Revoke (cessation of operation) and destroy every AK in one message; UIDs that failed. */
export async function destroyAks(provider: KmipProvider, uids: string[]): Promise<string[]> {
  if (uids.length === 0) return [];
  const batch = uids.flatMap((u) => [ops.revoke(u), ops.destroy(u)]);
  const { results } = await provider.batch(batch);
  return uids.filter((_, i) => !results[2 * i + 1]!.ok);
}
