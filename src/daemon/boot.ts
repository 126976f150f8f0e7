// The boot sequence: state directory, lock, store, sealing root, faults (and their lines to
// syslog, when configured), drives and hardware EAR with the drives' keys sent for at once,
// metrics (when configured), the drives' start and unlock, the API once the unlock waits on
// the key server (on loopback until CreateCluster unless the config says otherwise:
// api-listen.ts), then READY=1 to systemd once the first unlock pass is over (STATUS= lines
// tell its progress). Each step undoes the earlier ones when a later one fails, and close()
// undoes them all in reverse.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { faultMethods } from '../api/methods/fault-methods';
import { progressLine, watchKeyServerCertificates } from '../cluster/boot-unlock';
import { FaultService } from '../cluster/faults';
import { nodeIdentity } from '../cluster/nodes/node-identity';
import { forwardFaultsToSyslog } from '../cluster/faults/fault-syslog';
import type { EarlyRequest } from '../cluster/boot-unlock/key-plan';
import { zeroWhenAnswered } from '../cluster/boot-unlock/fetch-keys';
import { parseVersion } from '../kmip/client';
import { openSealer } from '../store';
import { openClusterStore } from '../store/cluster-store';
import { apiListen, moveApiAtCreation } from './api-listen';
import { parseListen, type Config } from './config';
import { openHardwareEar } from './hardware-ear-wiring';
import { openSear } from './sear-wiring';
import { retryInBackground } from './retry';
import { componentLogger } from './log';
import { createNotifier } from './notify';
import { prepareStateDir } from './state-dir';
import { acquireStateLock } from '../store/state-lock';

/** How often the store's history is trimmed (see Store.maintain). */
const STORE_MAINTENANCE_MS = 60 * 60 * 1000;

export interface Daemon {
  api: { host: string; port: number };
  close(): Promise<void>;
}

export async function startDaemon(
  config: Config,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
  /** The keys sent for from key-plan.json before the boot (early-keys.ts); zeroed if unused. */
  early?: EarlyRequest,
): Promise<Daemon> {
  let unclaimed = early;
  const undo: (() => unknown)[] = [() => unclaimed && zeroWhenAnswered(unclaimed.answers)];
  const close = async () => {
    while (undo.length) await undo.pop()!();
  };
  try {
    prepareStateDir(config.stateDir, logger);
    const lock = acquireStateLock(config.stateDir);
    undo.push(() => lock.release());
    await ioTurn();
    const store = await openClusterStore(config, componentLogger(logger, 'store'));
    undo.push(() => store.close());
    await ioTurn();
    const sealer = openSealer({
      stateDir: config.stateDir,
      credentialsDir: env.CREDENTIALS_DIRECTORY,
      logger: componentLogger(logger, 'seal'),
    });
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
    const notifier = createNotifier({ env, logger: componentLogger(logger, 'notify') });
    const hw = openHardwareEar(config, { store, sealer, faults, logger });
    undo.push(() => hw.close());
    // The keys are sent for now, so that the key server works while the rest of the boot
    // does; the turns given to the event loop between the steps below let its TLS
    // handshake progress.
    if (hw.unlock) {
      hw.unlock.prefetchKeys(unclaimed);
      unclaimed = undefined; // taken, or zeroed by prefetchKeys
    }
    await ioTurn();
    // kmipCertificateFault: checked now, daily, and when a key server changes.
    const stopCertificateChecks = watchKeyServerCertificates(
      store,
      faults,
      componentLogger(logger, 'faults'),
    );
    undo.push(stopCertificateChecks);
    // The store's history stays bounded: on etcd, old tombstones removed and revisions
    // compacted (SQLite keeps no history). Hourly, after the boot.
    const maintenance = setInterval(() => {
      store.maintain().catch((err: unknown) => {
        logger.warn({ err: (err as Error).message }, 'store maintenance deferred');
      });
    }, STORE_MAINTENANCE_MS).unref();
    undo.push(() => clearInterval(maintenance));
    const unwatchRounds = hw.unlock?.onRound((p) => notifier.status(progressLine(p)));
    undo.push(() => unwatchRounds?.());
    const sear = await openSear(config, {
      store,
      sealer,
      faults,
      logger,
      inventory: hw.drives.inventory,
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
        faults,
        faultSyslog,
        logger: componentLogger(logger, 'metrics'),
      });
      undo.push(() => metrics.close());
    }
    // Drives first, so that unlocking overlaps the API's start; the API still answers
    // without waiting for the unlock. Drives come when their backend answers (ekmd-sim
    // started later, a controller still probing), retried with capped backoff.
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
    // The API starts once the first unlock round waits on the key server or is over (or at
    // most API_WAIT_MS after the drives started): its loading then runs off the unlock's
    // path, while the key server works or after the unlocks, and it still answers within
    // moments of the start.
    await Promise.race([
      hw.unlock?.keysAsked,
      drivesStarting.firstAttempt.then(() => (drivesStarted ? hw.unlock?.keysAsked : undefined)),
      sleep(API_WAIT_MS),
    ]);
    await ioTurn();
    // Loaded here, not at the top: what boot unlock needs comes first.
    const { startApiServer } = require('../api') as typeof import('../api');
    await ioTurn();
    const listen = apiListen(config, store);
    const api = await startApiServer({
      store,
      sealer,
      logger: componentLogger(logger, 'api'),
      listen: listen.now,
      tls,
      stateDir: config.stateDir,
      nodeName: config.node.name,
      node: nodeIdentity(config.stateDir, config.node),
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
    if (listen.atCreation) {
      undo.push(moveApiAtCreation(store, api, listen.atCreation, componentLogger(logger, 'api')));
    }
    await drivesStarting.firstAttempt;
    // READY=1 once the first unlock pass is over (every drive unlocked or its fault
    // raised). The pass is bounded by the KMIP timeouts; the cap only guards against a
    // bug holding the boot, since systemd would kill a service that never gets ready.
    if (drivesStarted && hw.unlock) {
      notifier.status('unlocking drives');
      await firstPassOrCap(hw.unlock.firstPass, firstPassCapMs(config), logger);
    } else if (!drivesStarted) notifier.status('waiting for the drives backend');
    sear.start();
    notifier.startWatchdog();
    undo.push(() => {
      notifier.stopping();
      notifier.stopWatchdog();
    });
    notifier.ready();
    logger.info({ stateDir: config.stateDir, api: api.address }, 'ekmd ready');
    return { api: api.address, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The longest the API waits for the first unlock round to send for its keys. */
const API_WAIT_MS = 1000;

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

function readTls(files: { cert: string; key: string }): { cert: string; key: Buffer } {
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
