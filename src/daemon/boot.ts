// The boot sequence, after the early unlock ekmd.ts started from key-plan.json (the drives
// unlocked before the store): state directory, lock, store (waited for when it cannot
// answer: store-wait.ts), sealing root, faults (and their lines to syslog, when
// configured), drives and hardware EAR (the first round records the early unlock's pass;
// without one the drives' keys are sent for at once), metrics (when configured), the
// drives' start and unlock, the API and the key servers' certificate check once the first
// unlock pass is over (the API at most API_WAIT_MS after the drives started; on loopback
// until CreateCluster unless the config says otherwise: api-listen.ts), then READY=1 to
// systemd (STATUS= lines tell the progress).
//
// READY=1 says the boot's job is done: the drives unlocked, or their faults raised. A
// store that cannot be reached does not hold it: once the early unlock's pass is over,
// READY=1 goes out with a STATUS= line saying the store is awaited, the watchdog runs, and
// the API's address answers "store unavailable" until the store opens. Holding READY=1
// for the store would keep the mounts ordered after ekmd waiting on etcd, then have
// systemd kill and restart ekmd at TimeoutStartSec, again and again while etcd is down.
//
// Each step undoes the earlier ones when a later one fails, and close() undoes them all in
// reverse.
import type { Logger } from 'pino';
import { openClusterStore } from '../store/cluster-store';
import { listenBeforeCluster, parseListen, type Config } from './config';
import type { EarlyStart } from './early-unlock';
import { componentLogger } from './log';
import { createNotifier } from './notify';
import { readTls, startOnStore } from './boot-on-store';
import { prepareStateDir } from './state-dir';
import { StateLockOnce } from './state-lock-once';
import { AwaitingStore, openStoreWhenReachable, Readiness } from './store-wait';
import { openSealer } from '../store/seal';

export interface Daemon {
  api: { host: string; port: number };
  close(): Promise<void>;
}

export interface StartOptions {
  /** The early unlock ekmd.ts started (early-unlock.ts); its drives backend is taken over. */
  early?: EarlyStart;
  /** The state lock, which the early unlock may have taken already. */
  lock?: StateLockOnce;
  /** Settles on SIGTERM/SIGINT: a start still waiting for its store gives up (BootStopped). */
  stopped?: Promise<unknown>;
}

/** A start stopped by a signal while it waited for its store. */
export class BootStopped extends Error {
  override name = 'BootStopped';
}

/** How long a slow store may take past the early unlock's pass before READY=1 goes out. */
const STORE_GRACE_MS = 2000;

export async function startDaemon(
  config: Config,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
  options: StartOptions = {},
): Promise<Daemon> {
  const { early } = options;
  const backend = { claimed: false };
  const undo: (() => unknown)[] = [
    async () => {
      // The early unlock's drives backend, unless the drives wiring took it over.
      if (!early || backend.claimed) return;
      await early.done;
      await early.backend.inventory.close();
      await early.backend.end();
    },
  ];
  const close = async () => {
    while (undo.length) await undo.pop()!();
  };
  try {
    prepareStateDir(config.stateDir, logger);
    const lock = (options.lock ?? new StateLockOnce(config.stateDir)).take();
    undo.push(() => lock.release());
    const notifier = createNotifier({ env, logger: componentLogger(logger, 'notify') });
    const readiness = new Readiness(notifier);
    // Ready while the store was awaited, then stopped before it opened: no watchdog left.
    undo.push(() => readiness.done && notifier.stopWatchdog());
    const sealer = () =>
      openSealer({
        stateDir: config.stateDir,
        credentialsDir: env.CREDENTIALS_DIRECTORY,
        logger: componentLogger(logger, 'seal'),
      });
    const awaiting = new AwaitingStore({
      readiness,
      // A key plan means a cluster with hardware EAR: its API is at api.listen.
      listen: early ? parseListen(config.api.listen) : listenBeforeCluster(config.api),
      identity: async () => {
        if (config.api.tls) return readTls(config.api.tls);
        const { selfSignedIdentity } =
          require('../api/self-signed') as typeof import('../api/self-signed');
        return selfSignedIdentity(config.stateDir, sealer(), componentLogger(logger, 'api'));
      },
      ...(early ? { early: early.done } : {}),
      logger: componentLogger(logger, 'api'),
    });
    undo.push(() => awaiting.end());
    let storeOpen = false;
    void early?.done.then(() => sleep(STORE_GRACE_MS)).then(() => storeOpen || awaiting.begin());
    await ioTurn();
    const storeLogger = componentLogger(logger, 'store');
    const store = await openStoreWhenReachable(() => openClusterStore(config, storeLogger), {
      maxDelayMs: config.unlock.retry.maxDelayMs,
      logger: storeLogger,
      stopped: options.stopped ?? new Promise(() => {}),
      onWaiting: () => awaiting.begin(),
    });
    storeOpen = true;
    if (!store) throw new BootStopped('stopped while waiting for the cluster store');
    undo.push(() => store.close());
    const waitedAt = await awaiting.end();
    await ioTurn();
    const api = await startOnStore(config, logger, {
      store,
      sealer: sealer(),
      notifier,
      readiness,
      ...(waitedAt ? { waitedAt } : {}),
      ...(early ? { early } : {}),
      claimBackend: () => (backend.claimed = true),
      undo,
    });
    return { api, close };
  } catch (err) {
    await close();
    throw err;
  }
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Lets pending I/O callbacks (a TLS handshake in progress) run before the next step. */
const ioTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
