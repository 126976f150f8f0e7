// Disaster recovery of a lost store (`ekmctl recover drives --apply`): what the key server
// still knows — each drive's AK and its Name — rebuilt into the records boot unlock needs:
// the key pair, the key server and a provider, the drive and key records, EAR enabled.
// Written in one transaction into an empty store only, so a live cluster is never touched.
import type { KeyObject } from 'node:crypto';
import { MAX_TX_WRITES, type Sealer, type Store, type StoreReader } from '../store';
import { DRIVE_PREFIX, nextDriveID, putDrive } from './drives/drive-records';
import { keyCheckValue, putKeyRecord } from './drive-keys/drive-keys';
import { getEar, putEar } from './ear-state';
import { KEY_PAIR_KEY, putImportedKeyPair } from './key-pair';
import { KEY_REFERENCE_PREFIX } from './key-references';
import {
  PROVIDER_PREFIX,
  SERVER_PREFIX,
  asJson,
  nextID,
  providerKey,
  serverKey,
} from './key-servers/kmip-records';

export interface RecoveredKeyServer {
  hostnames: string[];
  port: number;
  /** PEM of the key server's CA certificate(s). */
  ca: string;
  /** PEM of the cluster's client certificate. */
  cert: string;
}

export interface RecoveredDrive {
  serial: string;
  path: string;
  model: string;
  capacityBytes: number;
  opal: boolean;
  /** Its place in the inventory. */
  slot: number;
  keyID: string;
  kmipUID: string;
  /** The AK fetched from the key server: only its key check value is kept (the caller zeroes it). */
  ak: Buffer;
}

/** A drive and its key record each, with the cluster's records, in one transaction. */
export const MAX_RECOVERED_DRIVES = Math.floor((MAX_TX_WRITES - 8) / 2);

export interface Recovery {
  privateKey: KeyObject;
  commonName?: string;
  server: RecoveredKeyServer;
  drives: RecoveredDrive[];
}

/** Throws unless the store holds nothing recovery would write over; `where` names it. */
export function refuseUnlessEmpty(tx: StoreReader, where: string): void {
  const held = [
    ['drive records', DRIVE_PREFIX],
    ['key records', KEY_REFERENCE_PREFIX],
    ['key servers', SERVER_PREFIX],
    ['key providers', PROVIDER_PREFIX],
  ].filter(([, prefix]) => tx.list(prefix!).length > 0);
  const names = held.map(([what]) => what!);
  if (tx.get(KEY_PAIR_KEY)) names.push('a key pair');
  if (getEar(tx).state !== 'disabled') names.push(`EAR ${getEar(tx).state}`);
  if (names.length)
    throw new Error(
      `the store in ${where} is not empty (${names.join(', ')}); recover only rebuilds a lost store — move it aside first`,
    );
}

/** Writes the recovered cluster into the empty store `where` names; returns its provider. */
export function writeRecovery(
  store: Store,
  sealer: Sealer,
  where: string,
  recovery: Recovery,
): Promise<{ keyProviderID: number }> {
  const { server } = recovery;
  if (recovery.drives.length > MAX_RECOVERED_DRIVES) {
    throw new Error(
      `recover writes at most ${MAX_RECOVERED_DRIVES} drives in its one transaction; ` +
        `${recovery.drives.length} were found: recover them in groups with --device`,
    );
  }
  const now = new Date().toISOString();
  return store.transaction((tx) => {
    refuseUnlessEmpty(tx, where);
    putImportedKeyPair(
      tx,
      sealer,
      recovery.privateKey,
      recovery.commonName ? { commonName: recovery.commonName } : {},
    );
    const keyProviderID = nextID(tx, 'providers');
    tx.put(providerKey(keyProviderID), asJson({ keyProviderID, keyProviderName: 'recovered' }));
    const keyServerID = nextID(tx, 'servers');
    tx.put(
      serverKey(keyServerID),
      asJson({
        keyServerID,
        keyProviderID,
        kmipKeyServerName: 'recovered',
        kmipKeyServerHostnames: server.hostnames,
        kmipKeyServerPort: server.port,
        kmipCaCertificate: server.ca,
        kmipClientCertificate: server.cert,
      }),
    );
    for (const d of recovery.drives) {
      const driveID = nextDriveID(tx);
      putDrive(tx, {
        driveID,
        serial: d.serial,
        path: d.path,
        model: d.model,
        capacity: d.capacityBytes,
        slot: d.slot,
        present: true,
        opal: d.opal,
        status: 'available',
        type: 'unknown',
        security: 'enabled',
        step: null,
        keyID: d.keyID,
        keyProviderID,
        ownerKeyID: null,
        driveSecurityFaultReason: 'none',
        driveFailureDetail: null,
      });
      putKeyRecord(tx, {
        keyID: d.keyID,
        keyProviderID,
        state: 'live',
        purpose: 'driveAuthentication',
        driveID,
        serial: d.serial,
        kmipUID: d.kmipUID,
        sealedKey: null,
        keyCheckValue: keyCheckValue(d.ak, d.serial),
        createTime: now,
      });
    }
    putEar(tx, 'enabled', keyProviderID);
    return { keyProviderID };
  });
}
