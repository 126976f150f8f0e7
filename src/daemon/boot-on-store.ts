// The boot once its store is open (boot.ts has the order and the reasons): faults, drives
// and hardware EAR, software EAR, metrics, the drives' start and first unlock round, the
// API and the cluster master's jobs (certificate checks, rekeys, store maintenance),
// READY=1. Every step pushes its undo.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { faultMethods } from '../api/methods/fault-methods';
import { progressLine, watchKeyServerCertificates } from '../cluster/boot-unlock';
import { FaultService } from '../cluster/faults';
import { forwardFaultsToSyslog } from '../cluster/faults/fault-syslog';
import { fencedStore } from '../cluster/nodes/fenced-store';
import { NodeScope } from '../cluster/drives/node-scope';
import { nodeIdentity } from '../cluster/nodes/node-identity';
import type { NodeIdentity } from '../cluster/nodes/node-records';
import { ClusterSealing } from '../cluster/sealing/cluster-sealing';
import type { Sealer } from '../cluster/sealer';
import { nodeDakAccess } from '../cluster/split-key/dak-access';
import type { ShareService } from '../cluster/split-key/share-service';
import { parseVersion } from '../kmip/client';
import type { Store } from '../store/store';
import { apiListen, moveApiAtCreation } from './api-listen';
import { parseListen, type Config, type ListenAddress } from './config';
import type { EarlyStart } from './early-unlock';
import { openHardwareEar } from './hardware-ear-wiring';
import { componentLogger } from './log';
import type { Notifier } from './notify';
import { retryInBackground } from './retry';
import { openSear } from './sear-wiring';
import type { Readiness } from './store-wait';

/** How often the store's history is trimmed (see Store.maintain). */
const STORE_MAINTENANCE_MS = 60 * 60 * 1000;

/** The longest the API waits for the first unlock pass once the drives started. */
const API_WAIT_MS = 1000;

export interface OnStore {
  store: Store;
  sealer: Sealer;
  notifier: Notifier;
  readiness: Readiness;
  /** Where the API answered "store unavailable" while the store was awaited. */
  waitedAt?: ListenAddress;
  early?: EarlyStart;
  /** Called once the drives wiring has taken the early unlock's backend over. */
  claimBackend: () => void;
  undo: (() => unknown)[];
}

/** Runs the boot on its open store; resolves with where the API listens. */
export async function startOnStore(
  config: Config,
  logger: Logger,
  s: OnStore,
): Promise<ListenAddress> {
  const { store, notifier, early, undo } = s;
  // On a shared store what cluster code seals goes under the cluster sealing key; the
  // node's own seal.key keeps its own secrets (the API's key) and the key's grants.
  const sealing = store.shared
    ? new ClusterSealing(store, s.sealer, config.stateDir, componentLogger(logger, 'seal'))
    : undefined;
  undo.push(() => sealing?.close());
  const sealer = sealing?.sealer ?? s.sealer;
  const faults = new FaultService(store, componentLogger(logger, 'faults'));
  undo.push(() => faults.close());
  const faultSyslog = config.syslog.faults
    ? forwardFaultsToSyslog(faults, {
        socket: config.syslog.socket,
        facility: config.syslog.facility,
        logger: componentLogger(logger, 'syslog'),
      })
    : undefined;
  undo.push(() => faultSyslog?.close());
  // This node in the node records: its drive records are those of its nodeID.
  const node = nodeIdentity(config.stateDir, config.node);
  const scope = new NodeScope(node.uuid, store.shared);
  // Internal AKs under the drive-access key split across the nodes: put together from this
  // node's share and a peer's over the node link when a key must be opened.
  const dak =
    sealing &&
    nodeDakAccess({
      store,
      local: s.sealer,
      sealingKey: () => sealing.nodeKey,
      stateDir: config.stateDir,
      uuid: node.uuid,
      logger: componentLogger(logger, 'link'),
    });
  const hw = openHardwareEar(config, {
    store,
    sealer,
    faults,
    logger,
    scope,
    ...(dak ? { dak } : {}),
    ...(early ? { backend: early.backend } : {}),
  });
  s.claimBackend();
  undo.push(() => hw.close());
  // With an early unlock, the first round records its pass and goes on from there; without
  // one, the keys are sent for now so that the key server works while the boot goes on.
  if (hw.unlock && early) hw.unlock.adoptEarly(early.done, early.planText);
  else hw.unlock?.prefetchKeys();
  await ioTurn();
  const unwatchRounds = hw.unlock?.onRound((p) => notifier.status(progressLine(p)));
  undo.push(() => unwatchRounds?.());
  const sear = await openSear(config, {
    store,
    sealer,
    faults,
    logger,
    scope,
    inventory: hw.drives.inventory,
    // A rekey is run by the cluster master, whichever node it was asked of.
    rekeyOnMaster: true,
  });
  undo.push(() => sear.close());
  await ioTurn();
  // Read before the drives start: a missing file stops the boot before it touches them.
  const tls = config.api.tls && readTls(config.api.tls);
  undo.push(() => tls?.key.fill(0));
  if (config.metrics.listen) {
    // Before the drives, so that the first round's unlocks and KMIP requests are counted.
    const { startMetricsServer } = require('./metrics') as typeof import('./metrics');
    const metrics = await startMetricsServer(parseListen(config.metrics.listen), {
      store,
      scope,
      faults,
      faultSyslog,
      logger: componentLogger(logger, 'metrics'),
    });
    undo.push(() => metrics.close());
  }
  // Drives come when their backend answers (ekmd-sim started later, a controller still
  // probing), retried with capped backoff.
  let drivesStarted = false;
  const drivesStarting = retryInBackground(
    async () => {
      await hw.start();
      drivesStarted = true;
    },
    config.unlock.retry.maxDelayMs,
    componentLogger(logger, 'drives'),
  );
  undo.push(() => drivesStarting.stop());
  // The API and the certificate check load and run once the first unlock pass is over, off
  // its path; the API still answers within moments of the start when the pass waits on a
  // key server.
  let passOver = false;
  const firstPass = drivesStarting.firstAttempt.then(() =>
    drivesStarted ? hw.unlock?.firstPass.then(() => (passOver = true)) : undefined,
  );
  await Promise.race([firstPass, sleep(API_WAIT_MS)]);
  await ioTurn();
  // Loaded here, not at the top: what boot unlock needs comes first.
  const { startApiServer } = require('../api') as typeof import('../api');
  await ioTurn();
  // Off the unlock path too: the link's identity may be made (an RSA key) at this start.
  const link = sealing
    ? await startNodeLink(store, s.sealer, sealing, config.stateDir, node, logger)
    : undefined;
  undo.push(() => link?.close());
  const listen = apiListen(config, store);
  const api = await startApiServer({
    store,
    sealer: s.sealer,
    ...(sealing ? { sealing } : {}),
    logger: componentLogger(logger, 'api'),
    listen: sameAddress(listen.now, s.waitedAt),
    tls,
    stateDir: config.stateDir,
    nodeName: config.node.name,
    node: link ? { ...node, link: link.address } : node,
    faults,
    bootstrapAdmin: config.admin,
    kmip: {
      connectTimeoutMs: config.kmip.connectTimeoutMs,
      requestTimeoutMs: config.kmip.requestTimeoutMs,
      ...(config.kmip.version ? { version: parseVersion(config.kmip.version) } : {}),
    },
    methods: [...sear.decorate(hw.methods), ...sear.methods, ...faultMethods(faults)],
    encryptionStates: hw.encryptionStates,
  }).finally(() => tls?.key.fill(0));
  undo.push(() => api.close());
  undo.push(relieveMemoryAfterBusySpells(api, componentLogger(logger, 'memory')));
  if (listen.atCreation) {
    undo.push(moveApiAtCreation(store, api, listen.atCreation, componentLogger(logger, 'api')));
  }
  await drivesStarting.firstAttempt;
  // READY=1 once the first unlock pass is over (every drive unlocked or its fault raised).
  // The pass is bounded by the KMIP timeouts; the cap only guards against a bug holding
  // the boot, since systemd would kill a service that never gets ready.
  if (drivesStarted && hw.unlock) {
    if (!s.readiness.done && !passOver) notifier.status('unlocking drives');
    await firstPassOrCap(hw.unlock.firstPass, firstPassCapMs(config), logger);
  } else if (!drivesStarted) notifier.status('waiting for the drives backend');
  // kmipCertificateFault: a cluster-wide job, run by the master only (now, daily, and when
  // a key server changes), its writes fenced; a node that becomes master starts it.
  const stopCertificateChecks = api.services.nodes.whileMaster((fence) =>
    watchKeyServerCertificates(fencedStore(fence), faults, componentLogger(logger, 'faults')),
  );
  undo.push(stopCertificateChecks);
  sear.start();
  // Rekeys (and an interrupted one's end) and replaced keys' destruction: the master's.
  undo.push(api.services.nodes.whileMaster(sear.masterJob));
  // The store's history stays bounded: on etcd, old tombstones removed and revisions
  // compacted (SQLite keeps no history). Hourly, by the master: once for the cluster.
  undo.push(
    api.services.nodes.whileMaster(() => {
      const maintenance = setInterval(() => {
        store.maintain().catch((err: unknown) => {
          logger.warn({ err: (err as Error).message }, 'store maintenance deferred');
        });
      }, STORE_MAINTENANCE_MS).unref();
      return () => clearInterval(maintenance);
    }),
  );
  s.readiness.ready();
  undo.push(() => {
    notifier.stopping();
    notifier.stopWatchdog();
  });
  logger.info({ stateDir: config.stateDir, api: api.address }, 'ekmd ready');
  return api.address;
}

/** Hands back the memory a busy spell of API calls grew into, once the API is quiet. */
function relieveMemoryAfterBusySpells(api: { requests: number }, logger: Logger): () => void {
  // Loaded here, not at the top: nothing of it is needed before the API is up.
  const { relieveAfterBusySpells } = require('./memory-relief') as typeof import('./memory-relief');
  return relieveAfterBusySpells(
    () => api.requests,
    (relief) => logger.debug(relief, 'memory handed back after a busy spell'),
    (err) => logger.warn({ err: err.message }, 'memory relief failed'),
  );
}

/** `now`, on the port the API answered at while the store was awaited when `now` says any. */
function sameAddress(now: ListenAddress, waitedAt: ListenAddress | undefined): ListenAddress {
  return waitedAt && now.port === 0 && now.host === waitedAt.host
    ? { host: now.host, port: waitedAt.port }
    : now;
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Lets pending I/O callbacks (a TLS handshake in progress) run before the next step. */
const ioTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function firstPassCapMs(config: Config): number {
  return 2 * (config.kmip.connectTimeoutMs + config.kmip.requestTimeoutMs) + 5000;
}

async function firstPassOrCap(pass: Promise<void>, capMs: number, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const cap = new Promise<'cap'>((resolve) => {
    timer = setTimeout(() => resolve('cap'), capMs);
  });
  const first = await Promise.race([pass.then(() => 'done' as const), cap]);
  clearTimeout(timer);
  if (first === 'cap') logger.warn({ capMs }, 'first unlock pass still running; ready anyway');
}

export function readTls(files: { cert: string; key: string }): { cert: string; key: Buffer } {
  const read = (what: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new Error(`cannot read api.tls.${what} ${path}: ${code}`);
    }
  };
  return { cert: read('cert', files.cert).toString('utf8'), key: read('key', files.key) };
}

/**
 * The node's end of the links between nodes (its key share served to active peers over
 * mutual TLS). Not serving is logged and survived: the drives this node can unlock alone
 * must not wait for it.
 */
async function startNodeLink(
  store: OnStore['store'],
  local: Sealer,
  sealing: ClusterSealing,
  stateDir: string,
  identity: NodeIdentity,
  logger: Logger,
): Promise<ShareService | undefined> {
  const linkLogger = componentLogger(logger, 'link');
  // Loaded here, as the API is: nothing of it is on the unlock path.
  const { startShareService } =
    require('../cluster/split-key/share-service') as typeof import('../cluster/split-key/share-service');
  try {
    return await startShareService({
      store,
      local,
      sealing,
      stateDir,
      uuid: identity.uuid,
      host: identity.mip,
      logger: linkLogger,
    });
  } catch (err) {
    linkLogger.warn({ err: (err as Error).message }, 'cannot serve the node link');
    return undefined;
  }
}
