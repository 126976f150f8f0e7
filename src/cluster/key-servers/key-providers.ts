// KMIP key providers (Element's KeyProviderKmip): named groups of key servers. Whether a
// provider is active is derived from the keys that refer to it; an active provider cannot
// be deleted and keeps at least one server.
import { getFips } from 'node:crypto';
import type { Logger } from 'pino';
import type { Store } from '../../store/store';
import { ElementError, versionMismatch } from '../errors';
import { activeProviderIDs } from '../key-references';
import {
  asJson,
  getProvider,
  getServerEntry,
  nextID,
  providerKey,
  serverKey,
  serversOfProvider,
  type KeyProviderRecord,
} from './kmip-records';
import { refuseIfLastOfActiveProvider, type KeyServerService } from './key-servers';
import { KmipSnapshots, type KmipSnapshot } from './kmip-snapshot';

export interface KeyProviderView extends KeyProviderRecord {
  keyProviderIsActive: boolean;
  keyServerIDs: number[];
  kmipCapabilities: string;
}

export interface KeyProviderFilter {
  keyProviderIsActive?: boolean;
  kmipKeyProviderHasServerAssigned?: boolean;
}

/** Element's free-form description of the KMIP client behind every provider. */
export const KMIP_CAPABILITIES =
  `KMIP 1.0-1.4; TLS 1.2-1.3 mutual authentication; ` +
  `OpenSSL ${process.versions.openssl}; FIPS mode ${getFips() ? 'on' : 'off'}`;

export class KeyProviderService {
  constructor(
    private readonly store: Store,
    private readonly servers: KeyServerService,
    private readonly logger?: Logger,
    private readonly snapshots = new KmipSnapshots(store),
  ) {}

  async create(keyProviderName: string): Promise<KeyProviderView> {
    const record = await this.store.transaction((tx) => {
      const created: KeyProviderRecord = {
        keyProviderID: nextID(tx, 'providers'),
        keyProviderName,
      };
      tx.put(providerKey(created.keyProviderID), asJson(created));
      return created;
    });
    this.logger?.info({ keyProviderID: record.keyProviderID }, 'KMIP key provider created');
    return this.get(record.keyProviderID);
  }

  /** Deletes an inactive provider; its servers become unassigned. */
  async delete(keyProviderID: number): Promise<void> {
    await this.store.transaction((tx) => {
      getProvider(tx, keyProviderID);
      if (activeProviderIDs(tx).has(keyProviderID)) {
        throw new ElementError(
          'xKeyProviderIsActive',
          `Key provider ${keyProviderID} is active (keys are in use through it) and cannot be deleted.`,
        );
      }
      for (const server of serversOfProvider(tx, keyProviderID)) {
        tx.put(serverKey(server.keyServerID), asJson({ ...server, keyProviderID: null }));
      }
      tx.delete(providerKey(keyProviderID));
    });
    this.logger?.info({ keyProviderID }, 'KMIP key provider deleted');
  }

  get(keyProviderID: number): KeyProviderView {
    return toView(this.snapshots.provider(keyProviderID), this.snapshots.current());
  }

  list(filter: KeyProviderFilter = {}): KeyProviderView[] {
    const snapshot = this.snapshots.current();
    return snapshot.providers
      .map((p) => toView(p, snapshot))
      .filter(
        (v) =>
          (filter.keyProviderIsActive === undefined ||
            v.keyProviderIsActive === filter.keyProviderIsActive) &&
          (filter.kmipKeyProviderHasServerAssigned === undefined ||
            v.keyServerIDs.length > 0 === filter.kmipKeyProviderHasServerAssigned),
      );
  }

  /**
   * Assigns a server after it answers; a server already on this provider is a no-op, one on
   * another provider must be removed from it first.
   */
  async addServer(keyProviderID: number, keyServerID: number): Promise<void> {
    getProvider(this.store, keyProviderID);
    const entry = getServerEntry(this.store, keyServerID);
    const assigned = entry.value.keyProviderID;
    if (assigned === keyProviderID) return;
    if (assigned !== null) {
      throw new ElementError(
        'xKeyServerAlreadyAssigned',
        `Key server ${keyServerID} is assigned to key provider ${assigned}; remove it from that provider first.`,
      );
    }
    await this.servers.verify(entry.value);
    await this.store.transaction((tx) => {
      getProvider(tx, keyProviderID);
      const current = getServerEntry(tx, keyServerID);
      if (current.revision !== entry.revision) throw versionMismatch('The key server');
      tx.put(serverKey(keyServerID), asJson({ ...current.value, keyProviderID }));
    });
    this.logger?.info({ keyProviderID, keyServerID }, 'key server added to provider');
  }

  /** Unassigns a server; an unassigned server is a no-op. */
  async removeServer(keyServerID: number): Promise<void> {
    const removedFrom = await this.store.transaction((tx) => {
      const server = getServerEntry(tx, keyServerID).value;
      if (server.keyProviderID === null) return null;
      refuseIfLastOfActiveProvider(tx, server, 'removed');
      tx.put(serverKey(keyServerID), asJson({ ...server, keyProviderID: null }));
      return server.keyProviderID;
    });
    if (removedFrom !== null) {
      this.logger?.info({ keyProviderID: removedFrom, keyServerID }, 'key server removed');
    }
  }

  /** Every server of the provider must answer. */
  async test(keyProviderID: number): Promise<void> {
    getProvider(this.store, keyProviderID);
    const servers = serversOfProvider(this.store, keyProviderID);
    if (servers.length === 0) {
      throw new ElementError(
        'xKeyProviderHasNoServers',
        `Key provider ${keyProviderID} has no key servers; add one with AddKeyServerToProviderKmip.`,
      );
    }
    for (const server of servers) await this.servers.verify(server);
  }
}

function toView(record: KeyProviderRecord, snapshot: KmipSnapshot): KeyProviderView {
  return {
    ...record,
    keyProviderIsActive: snapshot.active.has(record.keyProviderID),
    keyServerIDs: snapshot.servers
      .filter((s) => s.keyProviderID === record.keyProviderID)
      .map((s) => s.keyServerID),
    kmipCapabilities: KMIP_CAPABILITIES,
  };
}
