// The drives' keys sent for first thing, before the store, the lock and the logger are
// loaded: what the last run asked its key servers for (key-plan.json) is asked again at
// once, so that the key server's handshake and answer overlap the rest of the start.
// BootUnlockService.prefetchKeys takes the answers only when the store, once open, names
// the same servers and key pair; otherwise they are zeroed unused. Nothing here may stop
// a start: any problem means no early request, and the boot asks as it would have.
import { askServers } from '../cluster/key-servers/ask-provider';
import type { KeyAnswers } from '../cluster/boot-unlock/fetch-keys';
import { parseKeyPlan, readKeyPlanText, type EarlyRequest } from '../cluster/boot-unlock/key-plan';
import { fetchAks, providerFor } from '../cluster/drive-keys/kmip-keys';
import { SEAL_LABEL } from '../cluster/key-pair';
import { parseVersion } from '../kmip/client';
import { openSealer } from '../store/seal';
import type { Logger } from 'pino';
import type { Config } from './config';
import { KEY_PLAN_SCHEMA, schemaValidator } from './generated-validators';

type Level = 'debug' | 'info' | 'warn' | 'error';

/**
 * The early request's log lines (the KMIP client's: connections, failed endpoints), held
 * until the daemon's logger exists, made just after the request is sent.
 */
export class HeldLog {
  private held: [Level, object, string][] = [];
  private target: Logger | undefined;

  debug = (obj: object, msg: string) => this.add('debug', obj, msg);
  info = (obj: object, msg: string) => this.add('info', obj, msg);
  warn = (obj: object, msg: string) => this.add('warn', obj, msg);
  error = (obj: object, msg: string) => this.add('error', obj, msg);
  child = () => this;

  /** Writes what was held to `logger`, and from now on passes lines straight to it. */
  flushTo(logger: Logger): void {
    this.target = logger;
    for (const [level, obj, msg] of this.held) logger[level](obj, msg);
    this.held = [];
  }

  private add(level: Level, obj: object, msg: string): void {
    // The logger filters by its level once it gets them.
    if (this.target) this.target[level](obj, msg);
    else this.held.push([level, obj, msg]);
  }
}

export function sendForKeysEarly(
  config: Pick<Config, 'stateDir' | 'kmip'>,
  env: NodeJS.ProcessEnv = process.env,
  log?: HeldLog,
): EarlyRequest | undefined {
  let pem: Buffer | undefined;
  try {
    const text = readKeyPlanText(config.stateDir);
    const plan = parseKeyPlan(text, schemaValidator(KEY_PLAN_SCHEMA).validate);
    if (!plan) return undefined;
    // Never makes a seal key: the boot does that, under the state lock.
    const sealer = openSealer({
      stateDir: config.stateDir,
      credentialsDir: env.CREDENTIALS_DIRECTORY,
      create: false,
    });
    pem = sealer.unseal(Buffer.from(plan.sealedPrivateKey, 'base64'), SEAL_LABEL);
    const at = performance.now();
    const asked = plan.providers.map((p) => {
      const key = Buffer.from(pem!); // the provider's own copy, zeroed when it closes
      const open = () =>
        providerFor(p.servers, key, config.kmip, {
          versionOf: (s) => (s.version ? { knownVersion: parseVersion(s.version) } : {}),
          ...(log ? { logger: log as unknown as Logger } : {}),
        });
      const ids = p.servers.map((s) => s.keyServerID);
      return askServers(ids, open, (c) => fetchAks(c, p.uids)).then(
        (answer) => [p.keyProviderID, answer] as const,
      );
    });
    const answers: Promise<KeyAnswers | undefined> = Promise.all(asked).then(
      (entries) => new Map(entries),
      () => undefined,
    );
    return { plan, text, at, answers };
  } catch {
    return undefined;
  } finally {
    pem?.fill(0);
  }
}
