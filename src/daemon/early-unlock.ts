// The early unlock's wiring (cluster/boot-unlock/early-unlock.ts): started right after the
// config is read, before the store, the logger and the rest of the boot are loaded, from
// what stateDir holds: key-plan.json, the sealing root (and, for drives under the split
// drive-access key, the node's X25519 key and link identity), and the guards of refusals met
// before an earlier start's store opened. The drives backend the config names is opened
// for it and handed on to the boot. Nothing here may stop a start: any problem means no
// early unlock, and the boot's first round unlocks as it would have.
import type { Logger } from 'pino';
import { readEarlyGuards, addEarlyGuard } from '../cluster/boot-unlock/early-guards';
import { earlyUnlock, type EarlyOutcome } from '../cluster/boot-unlock/early-unlock';
import { stateDirSplitKey } from '../cluster/boot-unlock/early-dak-keys';
import { parseKeyPlan, readKeyPlanText } from '../cluster/boot-unlock/key-plan';
import { readBootID } from '../cluster/boot-unlock/try-guard';
import { SEAL_LABEL } from '../cluster/key-pair';
import { ClusterKeySealer, CskKeyring } from '../store/cluster-seal';
import { openSealer } from '../store/seal';
import type { Config, LogLevel } from './config';
import { openDriveBackend, type DriveBackend } from './drive-backend';
import { KEY_PLAN_SCHEMA, schemaValidator } from './generated-validators';

type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Infinity,
};

/**
 * The early unlock's log lines (its own, the KMIP client's, the drive transport's), held
 * until the daemon's logger exists, made just after the early unlock starts. Lines below
 * the configured level are dropped at once.
 */
export class HeldLog {
  private held: [Level, object, string][] = [];
  private target: Logger | undefined;

  constructor(private readonly level: LogLevel = 'info') {}

  debug = (obj: object, msg: string) => this.add('debug', obj, msg);
  info = (obj: object, msg: string) => this.add('info', obj, msg);
  warn = (obj: object, msg: string) => this.add('warn', obj, msg);
  error = (obj: object, msg: string) => this.add('error', obj, msg);
  child = () => this;
  isLevelEnabled = (level: Level): boolean => RANK[level] >= RANK[this.level];

  /** Writes what was held to `logger`, and from now on passes lines straight to it. */
  flushTo(logger: Logger): void {
    this.target = logger;
    for (const [level, obj, msg] of this.held) logger[level](obj, msg);
    this.held = [];
  }

  /** As a pino Logger, for the modules that take one (they use only the methods above). */
  get asLogger(): Logger {
    return this as unknown as Logger;
  }

  private add(level: Level, obj: object, msg: string): void {
    if (this.target) this.target[level](obj, msg);
    else if (this.isLevelEnabled(level)) this.held.push([level, obj, msg]);
  }
}

export interface EarlyStart {
  /** key-plan.json as read. */
  planText: string;
  /** Opened for the early unlock; the boot takes it over. */
  backend: DriveBackend;
  /** The early unlock's outcome once it is over; never rejects. */
  done: Promise<EarlyOutcome>;
}

/**
 * Starts the early unlock when stateDir holds a valid key plan and the sealing root;
 * undefined otherwise. `takeLock` takes the state lock (or throws): called before the
 * first unlock attempt, so that two processes on one stateDir never both try a drive.
 */
export function startEarlyUnlock(
  config: Pick<Config, 'stateDir' | 'kmip' | 'drives'>,
  options: { env?: NodeJS.ProcessEnv; log?: HeldLog; takeLock: () => void },
): EarlyStart | undefined {
  const { stateDir } = config;
  const logger = options.log?.asLogger;
  let pem: Buffer | undefined;
  let backend: DriveBackend | undefined;
  try {
    const planText = readKeyPlanText(stateDir);
    const plan = parseKeyPlan(planText, schemaValidator(KEY_PLAN_SCHEMA).validate);
    if (!plan) {
      if (planText)
        logger?.warn({}, 'key-plan.json is not a plan this ekmd reads; no early unlock');
      return undefined;
    }
    // Never makes a seal key: the boot does that, under the state lock.
    const local = openSealer({
      stateDir,
      credentialsDir: (options.env ?? process.env).CREDENTIALS_DIRECTORY,
      create: false,
    });
    // On a shared store the plan's blob is sealed under a cluster sealing key generation
    // this node keeps in its stateDir (under seal.key); on SQLite under seal.key itself.
    const sealer = new ClusterKeySealer(local, CskKeyring.open(stateDir, local));
    if (plan.sealedPrivateKey)
      pem = sealer.unseal(Buffer.from(plan.sealedPrivateKey, 'base64'), SEAL_LABEL);
    // The drives under the split drive-access key: a peer's share asked over the node link.
    const splitKey =
      plan.splitKey && stateDirSplitKey({ planned: plan.splitKey, stateDir, local, outer: sealer });
    backend = openDriveBackend(config, logger);
    const inventory = backend.inventory;
    const done = earlyUnlock({
      plan,
      earlyGuards: readEarlyGuards(stateDir),
      bootID: readBootID(),
      transport: backend.transport,
      serialsAt: (paths) => inventory.serialsAt?.(paths) ?? Promise.resolve(new Map()),
      ...(pem ? { privateKeyPem: pem } : {}),
      ...(splitKey ? { splitKey } : {}),
      kmip: {
        connectTimeoutMs: config.kmip.connectTimeoutMs,
        requestTimeoutMs: config.kmip.requestTimeoutMs,
        ...(config.kmip.version ? { version: config.kmip.version } : {}),
      },
      recordGuard: (guard) => addEarlyGuard(stateDir, guard),
      beforeAttempts: options.takeLock,
      ...(backend.afterUnlock ? { afterUnlock: backend.afterUnlock } : {}),
      ...(logger ? { logger } : {}),
    });
    return { planText, backend, done };
  } catch (err) {
    logger?.warn({ err: (err as Error).message }, 'no early unlock');
    void backend?.end().catch(() => undefined);
    return undefined;
  } finally {
    pem?.fill(0);
  }
}
