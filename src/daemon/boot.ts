// The boot sequence: state directory, lock, store, sealing root, faults, drives and
// hardware EAR, API. Each step undoes
// the earlier ones when a later one fails, and close() undoes them all in reverse.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { startApiServer } from '../api';
import { faultMethods } from '../api/methods/fault-methods';
import { FaultService } from '../cluster/faults';
import { parseVersion } from '../kmip/client';
import { openSealer, openSqliteStore, STORE_FILE, type SqliteStore } from '../store';
import { parseListen, type Config } from './config';
import { openHardwareEar } from './hardware-ear-wiring';
import { openSear } from './sear-wiring';
import { retryInBackground } from './retry';
import { componentLogger } from './log';
import { createNotifier } from './notify';
import { prepareStateDir } from './state-dir';
import { acquireStateLock } from './state-lock';

/** Kept here too: offline tools import it from the daemon. */
export { STORE_FILE } from '../store';

export interface Daemon {
  api: { host: string; port: number };
  close(): Promise<void>;
}

export async function startDaemon(
  config: Config,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Daemon> {
  const undo: (() => unknown)[] = [];
  const close = async () => {
    while (undo.length) await undo.pop()!();
  };
  try {
    prepareStateDir(config.stateDir, logger);
    const lock = acquireStateLock(config.stateDir);
    undo.push(() => lock.release());
    const store: SqliteStore = openSqliteStore(join(config.stateDir, STORE_FILE), {
      logger: componentLogger(logger, 'store'),
    });
    undo.push(() => store.close());
    const sealer = openSealer({
      stateDir: config.stateDir,
      credentialsDir: env.CREDENTIALS_DIRECTORY,
      logger: componentLogger(logger, 'seal'),
    });
    const faults = new FaultService(store, componentLogger(logger, 'faults'));
    undo.push(() => faults.close());
    const hw = openHardwareEar(config, { store, sealer, faults, logger });
    undo.push(() => hw.close());
    const sear = openSear(config, {
      store,
      sealer,
      faults,
      logger,
      inventory: hw.drives.inventory,
    });
    undo.push(() => sear.close());
    const tls = config.api.tls && readTls(config.api.tls);
    const api = await startApiServer({
      store,
      sealer,
      logger: componentLogger(logger, 'api'),
      listen: parseListen(config.api.listen),
      tls,
      stateDir: config.stateDir,
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
    // The API answers from the start; drives come when their backend answers (ekmd-sim
    // started later, a controller still probing), retried with capped backoff.
    const drivesStarting = retryInBackground(
      () => hw.start(),
      config.unlock.retry.maxDelayMs,
      componentLogger(logger, 'drives'),
    );
    undo.push(() => drivesStarting.stop());
    await drivesStarting.firstAttempt;
    sear.start();
    const notifier = createNotifier({ env, logger: componentLogger(logger, 'notify') });
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
