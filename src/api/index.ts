// Element's JSON-RPC API over HTTPS: startApiServer wires the cluster services, the method
// table, Basic auth and TLS (operator-supplied or self-signed in stateDir).
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { openClusterServices, type ClusterSealing, type ClusterServices } from '../cluster';
import type { EncryptionStateSource } from '../cluster/cluster-info';
import type { KeyServerTester } from '../cluster/key-servers/key-server-tester';
import { KmipKeyServerTester, type KmipTesterOptions } from '../cluster/key-servers/kmip-tester';
import { AuditBatcher, LoginAudit } from '../cluster/audit';
import type { NodeIdentity } from '../cluster/nodes/node-records';
import type { NodeFaults } from '../cluster/nodes/offline-watch';
import type { Sealer } from '../cluster/sealer';
import type { Store } from '../store/store';
import { BasicAuth } from './auth';
import {
  API_LIMITS,
  capConnections,
  TIMEOUT_CHECK_INTERVAL_MS,
  type ApiLimits,
} from './connection-limits';
import { Dispatcher } from './dispatcher';
import { requestHandler } from './http';
import type { ApiMethod } from './method';
import { clusterMethods } from './methods/cluster-methods';
import { keyPairMethods } from './methods/key-pair-methods';
import { keyProviderMethods } from './methods/key-provider-methods';
import { keyServerMethods } from './methods/key-server-methods';
import { nodeMethods } from './methods/node-methods';
import { selfSignedIdentity } from './self-signed';

export interface ApiServerOptions {
  store: Store;
  /** The node's own sealing root (seal.key): the self-signed identity is sealed under it. */
  sealer: Sealer;
  /** The cluster sealing key on a shared store (the daemon's); see openClusterServices. */
  sealing?: ClusterSealing;
  logger?: Logger;
  listen: { host: string; port: number };
  /** PEM contents (not paths); absent: a self-signed identity kept in stateDir. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Where the self-signed identity is kept; required when tls is absent. */
  stateDir?: string;
  /** Valid until CreateCluster sets the cluster admin. */
  bootstrapAdmin?: { username: string; password: string };
  /** How Test*, Modify and AddKeyServerToProvider reach key servers; default: KMIP. */
  tester?: KeyServerTester;
  /** Settings of the default KMIP tester (config kmip.*). */
  kmip?: Omit<KmipTesterOptions, 'logger'>;
  /** Methods of later features, served beside the built-in ones. */
  methods?: ApiMethod[];
  /** Hardware/software EAR states for GetClusterInfo, once those features exist. */
  encryptionStates?: EncryptionStateSource;
  /** The cluster's name at CreateCluster; defaults to the host name. */
  nodeName?: string;
  /** This node in the node records; default: from stateDir's node.json and the host. */
  node?: NodeIdentity;
  /** Where the elected master raises nodeOffline (the daemon's FaultService). */
  faults?: NodeFaults;
  /** Timeouts and connection caps; default API_LIMITS. */
  limits?: Partial<ApiLimits>;
}

export interface ApiServer {
  /** Where the API listens now. */
  readonly address: { host: string; port: number };
  /** HTTP requests received so far, answered or not (how busy the API has been). */
  readonly requests: number;
  services: ClusterServices;
  /**
   * Listens at `listen` instead: new connections go there, open ones finish where they are
   * (a call in progress gets its answer). On failure nothing listens; the caller decides.
   */
  relisten(listen: { host: string; port: number }): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
}

export const builtInMethods: ApiMethod[] = [
  ...clusterMethods,
  ...keyPairMethods,
  ...keyServerMethods,
  ...keyProviderMethods,
  ...nodeMethods,
];

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { logger } = options;
  const tester = options.tester ?? new KmipKeyServerTester({ ...options.kmip, logger });
  const services = await openClusterServices({ ...options, tester });
  // The audit log lives in the store, beside the state it describes. Calls and refused
  // logins are audited in group commits (one per event-loop turn); a call's reply waits
  // for its record.
  const batcher = new AuditBatcher(options.store);
  const loginAudit = new LoginAudit((event) => batcher.append(event), logger);
  const dispatcher = new Dispatcher(
    [...builtInMethods, ...(options.methods ?? [])],
    services,
    logger,
    (event) => batcher.append(event),
  );
  const auth = new BasicAuth(services.admin, logger, (f) => loginAudit.record(f));
  const limits = { ...API_LIMITS, ...options.limits };
  const identity = options.tls ?? (await selfSigned(options));
  const server = createServer(
    {
      cert: identity.cert,
      key: identity.key,
      minVersion: 'TLSv1.2',
      handshakeTimeout: limits.handshakeTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    },
    requestHandler(auth, dispatcher, logger),
  );
  if (!options.tls) (identity.key as Buffer).fill(0);
  capConnections(server, limits, logger);
  let requests = 0;
  server.on('request', () => requests++);
  // Clients keep connections in idle pools (the SDK's requests, ekmctl); closing after
  // Node's default 5 s makes a reused connection race the close and fail with ECONNRESET.
  server.keepAliveTimeout = 30_000;
  const listen = async (at: { host: string; port: number }) => {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at.port, at.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { address, port } = server.address() as AddressInfo;
    logger?.info({ host: address, port }, 'Element API listening');
    return { host: address, port };
  };
  let address = await listen(options.listen);
  return {
    get address() {
      return address;
    },
    get requests() {
      return requests;
    },
    services,
    async relisten(at) {
      server.close(); // stops accepting; connections in use are left to finish
      address = await listen(at);
      return address;
    },
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await loginAudit.flush();
      await services.nodes.close();
    },
  };
}

function selfSigned(options: ApiServerOptions) {
  if (!options.stateDir)
    throw new Error('startApiServer: give tls or a stateDir for a self-signed certificate');
  return selfSignedIdentity(options.stateDir, options.sealer, options.logger);
}

export type { ApiMethod, ParamsSchema } from './method';
export { defineMethod } from './method';
