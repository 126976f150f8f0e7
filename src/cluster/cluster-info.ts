// The cluster itself: CreateCluster (this node and the pending nodes it names) and GetClusterInfo, with every
// member the SolidFire SDK requires. The cluster uuid is a UUIDv4 (the SDK parses it).
import { randomInt, randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Json, Store, StoreReader, StoreTx } from '../store/store';
import { hashCredentials, storeCredentials } from './admin';
import { ElementError, invalidParameter } from './errors';

export const CLUSTER_KEY = 'cluster/info';

export interface CreateClusterParams {
  acceptEula: boolean;
  mvip: string;
  svip: string;
  nodes: string[];
  username: string;
  password: string;
  enableSoftwareEncryptionAtRest?: boolean;
  attributes?: { [k: string]: Json };
  serialNumber?: string;
  orderNumber?: string;
}

interface ClusterRecord {
  name: string;
  uuid: string;
  uniqueID: string;
  mvip: string;
  svip: string;
  nodes: string[];
  attributes: { [k: string]: Json };
  enableSoftwareEncryptionAtRest: boolean;
  serialNumber: string;
  orderNumber: string;
  createTime: string;
}

export interface EncryptionStates {
  encryptionAtRestState: string;
  softwareEncryptionAtRestState: string;
}

/** Later services (hardware and software EAR) report their states through this. */
export type EncryptionStateSource = (tx: StoreReader) => EncryptionStates;

const PROTECTION = 'doubleHelix';
const UNIQUE_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export class ClusterService {
  constructor(
    private readonly store: Store,
    private readonly options: {
      logger?: Logger;
      /** The node's name, which becomes the cluster's; defaults to the host name. */
      nodeName?: string;
      encryptionStates?: EncryptionStateSource;
      /**
       * The node records: this node becomes node 1 in CreateCluster's transaction, and the
       * pending nodes the further addresses name become active in it.
       */
      nodes?: { createIn(tx: StoreTx, addresses: string[]): void; created(): Promise<void> };
    } = {},
  ) {}

  async create(params: CreateClusterParams): Promise<void> {
    if (params.acceptEula !== true) throw invalidParameter('acceptEula', 'must be true.');
    if (params.nodes.length < 1) throw invalidParameter('nodes', 'must name this node.');
    if (params.nodes.length > 1 && !this.options.nodes) {
      throw invalidParameter('nodes', 'this server creates single-node clusters: give one node.');
    }
    if (new Set(params.nodes).size !== params.nodes.length) {
      throw invalidParameter('nodes', 'must not name an address twice.');
    }
    for (const param of ['mvip', 'svip'] as const) {
      if (!isIP(params[param])) throw invalidParameter(param, 'must be an IP address.');
    }
    if (!params.nodes.every((n) => isIP(n))) {
      throw invalidParameter('nodes', 'must list IP addresses.');
    }
    this.refuseIfCreated(this.store);
    const admin = await hashCredentials(params.username, params.password);
    const record: ClusterRecord = {
      name: this.options.nodeName ?? hostname(),
      uuid: randomUUID(),
      uniqueID: Array.from({ length: 4 }, () => UNIQUE_ID_ALPHABET[randomInt(36)]).join(''),
      mvip: params.mvip,
      svip: params.svip,
      nodes: params.nodes,
      attributes: params.attributes ?? {},
      enableSoftwareEncryptionAtRest: params.enableSoftwareEncryptionAtRest ?? false,
      serialNumber: params.serialNumber ?? '',
      orderNumber: params.orderNumber ?? '',
      createTime: new Date().toISOString(),
    };
    await this.store.transaction((tx) => {
      this.refuseIfCreated(tx);
      tx.put(CLUSTER_KEY, record as unknown as Json);
      storeCredentials(tx, admin);
      this.options.nodes?.createIn(tx, params.nodes);
    });
    await this.options.nodes?.created();
    this.options.logger?.info({ uuid: record.uuid, mvip: record.mvip }, 'cluster created');
  }

  info(): { [k: string]: Json } {
    const tx = this.store; // synchronous reads: one revision of the view
    {
      const entry = tx.get<ClusterRecord>(CLUSTER_KEY);
      if (!entry) {
        throw new ElementError(
          'xClusterNotCreated',
          'This node is not part of a cluster yet; call CreateCluster.',
        );
      }
      const c = entry.value;
      const states = this.options.encryptionStates?.(tx) ?? {
        encryptionAtRestState: 'disabled',
        softwareEncryptionAtRestState: c.enableSoftwareEncryptionAtRest ? 'enabled' : 'disabled',
      };
      return {
        attributes: c.attributes,
        defaultProtectionScheme: PROTECTION,
        enabledProtectionSchemes: [PROTECTION],
        encryptionAtRestState: states.encryptionAtRestState,
        ensemble: c.nodes,
        mvip: c.mvip,
        mvipInterface: 'team1G',
        mvipNodeID: 1,
        mvipVlanTag: '0',
        name: c.name,
        repCount: 2,
        softwareEncryptionAtRestState: states.softwareEncryptionAtRestState,
        supportedProtectionSchemes: [PROTECTION],
        svip: c.svip,
        svipInterface: 'team10G',
        svipNodeID: 1,
        svipVlanTag: '0',
        uniqueID: c.uniqueID,
        uuid: c.uuid,
      };
    }
  }

  private refuseIfCreated(tx: StoreReader): void {
    if (tx.get(CLUSTER_KEY)) {
      throw new ElementError('xClusterAlreadyCreated', 'A cluster has already been created.');
    }
  }
}
