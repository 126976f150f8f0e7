// KMIP key servers (Element's KeyServerKmip): CRUD with Element's rules. Creating a
// server contacts nothing; Modify contacts the server with the new settings and a failure
// changes nothing; the last server of an active provider cannot be deleted.
import type { Logger } from 'pino';
import type { Store, StoreReader } from '../../store/store';
import { checkCaCertificates, checkClientCertificate } from '../certificates';
import { ElementError, versionMismatch } from '../errors';
import type { ClusterKeyPair } from '../key-pair';
import { activeProviderIDs } from '../key-references';
import type { KeyServerTester } from './key-server-tester';
import { KmipSnapshots } from './kmip-snapshot';
import {
  asJson,
  getServerEntry,
  nextID,
  serverKey,
  serversOfProvider,
  type KeyServerRecord,
} from './kmip-records';

export const DEFAULT_KMIP_PORT = 5696;

export interface KeyServerView extends KeyServerRecord {
  kmipAssignedProviderIsActive: boolean | null;
}

export interface KeyServerSettings {
  kmipCaCertificate: string;
  kmipClientCertificate: string;
  kmipKeyServerHostnames: string[];
  kmipKeyServerName: string;
  kmipKeyServerPort: number;
}

export type CreateKeyServerParams = Omit<KeyServerSettings, 'kmipKeyServerPort'> & {
  kmipKeyServerPort?: number;
};

export type ModifyKeyServerParams = { keyServerID: number } & Partial<KeyServerSettings>;

export interface KeyServerFilter {
  keyProviderID?: number;
  kmipAssignedProviderIsActive?: boolean;
  kmipHasProviderAssigned?: boolean;
}

const SETTINGS: (keyof KeyServerSettings)[] = [
  'kmipCaCertificate',
  'kmipClientCertificate',
  'kmipKeyServerHostnames',
  'kmipKeyServerName',
  'kmipKeyServerPort',
];

export class KeyServerService {
  /** The view last made of a snapshot's record: the same object while neither changes. */
  private readonly views = new WeakMap<KeyServerRecord, KeyServerView>();

  constructor(
    private readonly store: Store,
    private readonly keyPair: ClusterKeyPair,
    private readonly tester: KeyServerTester,
    private readonly logger?: Logger,
    private readonly snapshots = new KmipSnapshots(store),
  ) {}

  async create(params: CreateKeyServerParams): Promise<KeyServerView> {
    this.checkCertificates(params);
    const record = await this.store.transaction((tx) => {
      const created: KeyServerRecord = {
        keyServerID: nextID(tx, 'servers'),
        keyProviderID: null,
        kmipKeyServerName: params.kmipKeyServerName,
        kmipKeyServerHostnames: params.kmipKeyServerHostnames,
        kmipKeyServerPort: params.kmipKeyServerPort ?? DEFAULT_KMIP_PORT,
        kmipCaCertificate: params.kmipCaCertificate,
        kmipClientCertificate: params.kmipClientCertificate,
      };
      tx.put(serverKey(created.keyServerID), asJson(created));
      return created;
    });
    this.logger?.info({ keyServerID: record.keyServerID }, 'KMIP key server created');
    // Built from the record just written: rebuilding the shared snapshot (every server's
    // record) for each write is what made writes cost more as servers accumulate.
    return toView(record, NO_PROVIDERS);
  }

  /** Applies the given settings after the server answers with them; otherwise nothing changes. */
  async modify(params: ModifyKeyServerParams): Promise<KeyServerView> {
    const entry = getServerEntry(this.store, params.keyServerID);
    const changes = SETTINGS.filter((k) => params[k] !== undefined);
    if (changes.length === 0) return this.get(params.keyServerID);
    this.checkCertificates(params);
    const modified: KeyServerRecord = { ...entry.value };
    for (const k of changes) Object.assign(modified, { [k]: params[k] });
    await this.verify(modified);
    const view = await this.store.transaction((tx) => {
      const current = getServerEntry(tx, params.keyServerID);
      if (current.revision !== entry.revision) throw versionMismatch('The key server');
      tx.put(serverKey(modified.keyServerID), asJson(modified));
      return toView(
        modified,
        modified.keyProviderID === null ? NO_PROVIDERS : activeProviderIDs(tx),
      );
    });
    this.logger?.info({ keyServerID: modified.keyServerID, changes }, 'KMIP key server modified');
    return view;
  }

  async delete(keyServerID: number): Promise<void> {
    await this.store.transaction((tx) => {
      const server = getServerEntry(tx, keyServerID).value;
      refuseIfLastOfActiveProvider(tx, server, 'deleted');
      tx.delete(serverKey(keyServerID));
    });
    this.logger?.info({ keyServerID }, 'KMIP key server deleted');
  }

  get(keyServerID: number): KeyServerView {
    return this.view(this.snapshots.server(keyServerID), this.snapshots.current().active);
  }

  /**
   * The servers that pass the filter. Each view is shared with other callers until its
   * record or its provider's state changes (callers must not modify it): the API keeps
   * each one's JSON text by identity.
   */
  list(filter: KeyServerFilter = {}): KeyServerView[] {
    if (filter.keyProviderID !== undefined) this.snapshots.provider(filter.keyProviderID);
    const { servers, active } = this.snapshots.current();
    return servers
      .map((r) => this.view(r, active))
      .filter(
        (v) =>
          (filter.keyProviderID === undefined || v.keyProviderID === filter.keyProviderID) &&
          (filter.kmipHasProviderAssigned === undefined ||
            (v.keyProviderID !== null) === filter.kmipHasProviderAssigned) &&
          (filter.kmipAssignedProviderIsActive === undefined ||
            (v.kmipAssignedProviderIsActive === true) === filter.kmipAssignedProviderIsActive),
      );
  }

  async test(keyServerID: number): Promise<void> {
    await this.verify(getServerEntry(this.store, keyServerID).value);
  }

  /**
   * Contacts the server as the cluster (mutual TLS, Discover Versions, Query); throws
   * xKeyServerTestFailed naming the step that failed.
   */
  async verify(server: KeyServerRecord): Promise<void> {
    const fail = (step: string, message: string) => {
      this.logger?.warn({ keyServerID: server.keyServerID, step }, 'KMIP key server test failed');
      return new ElementError(
        'xKeyServerTestFailed',
        `Key server ${server.keyServerID} (${server.kmipKeyServerName}) failed at step ${step}: ${message}`,
      );
    };
    try {
      checkCaCertificates(server.kmipCaCertificate);
      checkClientCertificate(server.kmipClientCertificate, this.keyPair.publicKey());
    } catch (err) {
      if (err instanceof ElementError && err.elementName === 'xInvalidParameter') {
        throw fail('certificates', err.message);
      }
      throw err;
    }
    const outcome = await this.keyPair.withPrivateKeyPem((clientKey) =>
      this.tester.test({
        hostnames: server.kmipKeyServerHostnames,
        port: server.kmipKeyServerPort,
        caCertificate: server.kmipCaCertificate,
        clientCertificate: server.kmipClientCertificate,
        clientKey,
      }),
    );
    if (!outcome.ok) throw fail(outcome.failedStep, outcome.message);
    this.logger?.debug(
      { keyServerID: server.keyServerID, kmipVersion: outcome.kmipVersion },
      'KMIP key server test passed',
    );
  }

  private view(record: KeyServerRecord, active: ReadonlySet<number>): KeyServerView {
    const made = this.views.get(record);
    if (made && made.kmipAssignedProviderIsActive === isActive(record, active)) return made;
    const view = toView(record, active);
    this.views.set(record, view);
    return view;
  }

  private checkCertificates(params: Partial<KeyServerSettings>): void {
    if (params.kmipCaCertificate !== undefined) checkCaCertificates(params.kmipCaCertificate);
    if (params.kmipClientCertificate !== undefined) {
      checkClientCertificate(params.kmipClientCertificate, this.keyPair.publicKey());
    }
  }
}

const NO_PROVIDERS: ReadonlySet<number> = new Set();

function toView(record: KeyServerRecord, active: ReadonlySet<number>): KeyServerView {
  return { ...record, kmipAssignedProviderIsActive: isActive(record, active) };
}

const isActive = (record: KeyServerRecord, active: ReadonlySet<number>): boolean | null =>
  record.keyProviderID === null ? null : active.has(record.keyProviderID);

/** An active provider must keep at least one server: its keys are only reachable through them. */
export function refuseIfLastOfActiveProvider(
  tx: StoreReader,
  server: KeyServerRecord,
  action: 'deleted' | 'removed',
): void {
  const providerID = server.keyProviderID;
  if (providerID === null || !activeProviderIDs(tx).has(providerID)) return;
  if (serversOfProvider(tx, providerID).length > 1) return;
  throw new ElementError(
    'xKeyServerIsLastOfActiveProvider',
    `Key server ${server.keyServerID} is the last server of active key provider ${providerID} and cannot be ${action}.`,
  );
}
