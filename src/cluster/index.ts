// The cluster's domain services, wired over one store and one sealing root.
import type { Logger } from 'pino';
import type { Store } from '../store/store';
import { AdminCredentials } from './admin';
import { AsyncResultService } from './async-results/async-results';
import { ClusterService, type EncryptionStateSource } from './cluster-info';
import { dropIntentsOfRemovedIn } from './drives/drive-intents';
import { ClusterKeyPair } from './key-pair';
import { KeyProviderService } from './key-servers/key-providers';
import type { KeyServerTester } from './key-servers/key-server-tester';
import { KeyServerService } from './key-servers/key-servers';
import { nodeIdentity } from './nodes/node-identity';
import type { NodeIdentity } from './nodes/node-records';
import { NodeService } from './nodes/node-service';
import type { NodeFaults } from './nodes/offline-watch';
import type { ClusterSealing } from './sealing/cluster-sealing';
import type { Sealer } from './sealer';
import { nodeDakAccess } from './split-key/dak-access';

export interface ClusterServices {
  cluster: ClusterService;
  admin: AdminCredentials;
  keyPair: ClusterKeyPair;
  keyServers: KeyServerService;
  keyProviders: KeyProviderService;
  nodes: NodeService;
}

export interface ClusterServiceOptions {
  store: Store;
  sealer: Sealer;
  tester: KeyServerTester;
  bootstrapAdmin?: { username: string; password: string };
  logger?: Logger;
  nodeName?: string;
  /** This node in the node records; default: derived from stateDir and the host. */
  node?: NodeIdentity;
  /** Where this node's identity file is kept (node.json), when `node` is not given. */
  stateDir?: string;
  /**
   * The cluster sealing key on a shared store (the daemon makes it: it seals drive keys
   * too). Without it everything is sealed under `sealer`, the node's own seal.key: right
   * for SQLite and for a single node on etcd.
   */
  sealing?: ClusterSealing;
  /** Where the elected master raises nodeOffline. */
  faults?: NodeFaults;
  encryptionStates?: EncryptionStateSource;
}

export async function openClusterServices(
  options: ClusterServiceOptions,
): Promise<ClusterServices> {
  const { store, tester, logger } = options;
  const { sealing } = options;
  const sealer = sealing?.sealer ?? options.sealer;
  const keyPair = new ClusterKeyPair(store, sealer, logger);
  const keyServers = new KeyServerService(store, keyPair, tester, logger);
  const identity = options.node ?? nodeIdentity(options.stateDir, { name: options.nodeName });
  const self = sealing ? { ...identity, sealingKey: sealing.publicKey } : identity;
  // Failing a result needs no owner: whichever node ran it, its record is completed.
  const asyncResults = new AsyncResultService(store);
  const nodes = new NodeService(store, self, {
    logger,
    faults: options.faults,
    removedIn: (tx, nodeIDs) => dropIntentsOfRemovedIn(tx, nodeIDs, asyncResults).length,
    ...(options.stateDir ? { stateDir: options.stateDir } : {}),
    ...(sealing ? { sealing } : {}),
    ...(sealing && options.stateDir
      ? {
          dak: nodeDakAccess({
            store,
            local: options.sealer,
            sealingKey: () => sealing.nodeKey,
            stateDir: options.stateDir,
            uuid: identity.uuid,
            ...(logger ? { logger } : {}),
          }),
        }
      : {}),
  });
  await nodes.start();
  return {
    cluster: new ClusterService(store, {
      logger,
      nodeName: options.nodeName,
      encryptionStates: options.encryptionStates,
      nodes,
    }),
    nodes,
    admin: await AdminCredentials.open(store, options.bootstrapAdmin),
    keyPair,
    keyServers,
    keyProviders: new KeyProviderService(store, keyServers, logger),
  };
}

export { ElementError } from './errors';
export type { Sealer } from './sealer';
export { ClusterSealing } from './sealing/cluster-sealing';
export type {
  KeyServerEndpoint,
  KeyServerTester,
  KeyServerTestOutcome,
  KeyServerTestStep,
} from './key-servers/key-server-tester';
export type { EncryptionStateSource, EncryptionStates } from './cluster-info';
export { KEY_REFERENCE_PREFIX, type KeyReference } from './key-references';
