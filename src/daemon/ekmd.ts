// ekmd: the daemon. Parses options, loads the config, boots, and runs until SIGTERM/SIGINT.
// Started by main.ts, from the one-file bundle the build makes of this module.
import { parseArgs } from 'node:util';
import { runMain, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../util/command';

const USAGE = `Usage: ekmd --config FILE

Runs the encryption-at-rest key daemon of a storage node.
  --config FILE   JSON configuration (see README, "Configuration")
  --help          this text
`;

export async function main(argv: string[]): Promise<number> {
  let values: { config?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, help: { type: 'boolean' } },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`ekmd: ${(err as Error).message}\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return EXIT_OK;
  }
  if (!values.config) {
    process.stderr.write(`ekmd: --config FILE is required\n${USAGE}`);
    return EXIT_USAGE;
  }
  // Loaded here, not at the top, so that --help stays fast.
  const { loadConfig } = require('./config') as typeof import('./config');
  let config: import('./config').Config;
  try {
    config = loadConfig(values.config);
  } catch (err) {
    process.stderr.write(`ekmd: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  }
  const stop = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  // The drives are unlocked from key-plan.json before the rest of the boot loads, and
  // whether or not the store answers (early-unlock.ts).
  const { startEarlyUnlock, HeldLog } =
    require('./early-unlock') as typeof import('./early-unlock');
  const { StateLockOnce } = require('./state-lock-once') as typeof import('./state-lock-once');
  const earlyLog = new HeldLog(config.log.level);
  const lock = new StateLockOnce(config.stateDir);
  const early = startEarlyUnlock(config, {
    env: process.env,
    log: earlyLog,
    takeLock: () => void lock.take(),
  });
  // No core file from here on, whoever started ekmd (the unit's LimitCORE=0 covers the
  // moments before, which are spent starting the unlock rather than loading koffi). One
  // turn of the loop first, so that the key server's connection is under way (its
  // ClientHello sent) while koffi loads (~9 ms); no key can have arrived before this.
  if (early) await ioTurn();
  const { forbidCoreDumps } = require('./no-core-dumps') as typeof import('./no-core-dumps');
  const coreDumps = forbidCoreDumps();
  // The rest of the boot, the logger first, loads synchronously, in chunks that would stall
  // the early unlock's handshake, Get and unlocks (what the early pass logs is held until
  // then): it waits for the early pass, for EARLY_HEAD_START_MS at most (a key server that
  // does not answer must not hold the store and the API back).
  if (early) await earlyPassOr(early.done, EARLY_HEAD_START_MS);
  const { componentLogger, createLogger } = require('./log') as typeof import('./log');
  const logger = createLogger(config.log.level);
  earlyLog.flushTo(componentLogger(logger, 'boot-unlock'));
  if (coreDumps.dumpable !== 0) logger.warn(coreDumps, 'could not make ekmd non-dumpable');
  await ioTurn();
  for (const load of BOOT_STAGES) {
    load();
    await ioTurn();
  }
  const { startDaemon } = require('./boot') as typeof import('./boot');
  let daemon: import('./boot').Daemon;
  try {
    daemon = await startDaemon(config, logger, process.env, {
      ...(early ? { early } : {}),
      lock,
      stopped: stop,
    });
  } catch (err) {
    if ((err as Error).name === 'BootStopped') {
      logger.info({ signal: await stop }, 'ekmd stopped before its store opened');
      return EXIT_OK;
    }
    // Expected refusals (lock held, corrupt store, bad seal key) need no stack trace.
    const expected = /^(StateLockError|StoreError|SealError)$/.test((err as Error).name);
    logger.fatal(expected ? { reason: (err as Error).message } : { err }, 'ekmd failed to start');
    process.stderr.write(`ekmd: ${(err as Error).message}\n`);
    return EXIT_FAILURE;
  }
  const signal = await stop;
  // A second signal during shutdown is ignored rather than killing us half-closed.
  process.on('SIGTERM', () => {});
  process.on('SIGINT', () => {});
  logger.info({ signal }, 'ekmd stopping');
  await daemon.close();
  logger.info('ekmd stopped');
  return EXIT_OK;
}

/**
 * The boot's modules in parts, native bindings first: loading runs synchronously, and the
 * turn of the event loop after each part lets the early unlock move on as soon as a drive
 * or the key server answers, rather than after the whole boot has loaded.
 */
const BOOT_STAGES = [
  () => require('../store/state-lock'),
  () => require('../store'), // better-sqlite3
  () => require('../cluster/faults'),
  () => require('../cluster/boot-unlock'),
  () => require('./hardware-ear-wiring'),
  () => require('./sear-wiring'),
];

const ioTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The longest the boot's loading waits for the early unlock's pass. */
const EARLY_HEAD_START_MS = 500;

/** Settles when `pass` does or `ms` have passed, whichever comes first. */
async function earlyPassOr(pass: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([pass, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** Runs ekmd with these arguments; the exit code becomes the process's. */
export function run(argv: string[]): void {
  runMain('ekmd', () => main(argv));
}

/**
 * Loads what a boot loads, without running anything: the build calls it so that the code
 * cache it writes beside the bundle holds the boot's modules (and the API's) compiled.
 */
export function warm(): void {
  require('./config');
  require('./no-core-dumps');
  require('./early-unlock');
  require('./state-lock-once');
  require('./log');
  require('./boot');
  require('../api');
}
