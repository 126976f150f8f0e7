// The early unlock: the drives unlocked from key-plan.json before the store is open (or
// while it cannot be: etcd slow or unreachable). Each planned drive is opened and its
// status read while the key provider's TLS connection is made; the first drive that reads
// locked sends the batched Get (so a restart that finds every drive unlocked fetches no
// key); each locked drive whose device still has the planned serial, whose key matches its
// key check value and that no guard of this boot holds back gets one attempt — the round's
// own steps (attemptUnlocks, unlockDrive). A refusal is written to early-guards.ts's file
// before anything else. Every key is zeroed once the attempts are over. Whatever goes
// wrong leaves the drive locked for the boot's first round, which BootUnlockService runs
// once the store is open, after recording what this pass found (early-outcome.ts).
import type { Logger } from 'pino';
import type { KmipProvider } from '../../kmip/client';
import { OpalDrive } from '../../opal/drive';
import type { DriveTransport } from '../../opal/transport';
import { InFlightLimit } from '../../util/in-flight-limit';
import { fetchAks, providerFor, type KmipSettings } from '../drive-keys/kmip-keys';
import { askServers } from '../key-servers/ask-provider';
import type { ServerOutcomes } from '../key-servers/server-faults';
import { parseVersion } from '../../kmip/client';
import { crashPoint } from '../test-hooks';
import type { EarlyGuard } from './early-guards';
import {
  collectExternalKeys,
  zeroWhenAnswered,
  type KeyAnswers,
  type KeyFailure,
} from './fetch-keys';
import type { KeyPlan, PlannedDrive, PlannedProvider } from './key-plan';
import { readHeldStatus } from './round-drives';
import { roundTally } from './round-result';
import { attemptUnlocks, type Attempt, type Timings } from './round-unlocks';
import { guardHolds, guardOf } from './try-guard';
import { NO_METRICS } from '../metrics-sink';

/** Drives unlocked at once when the transport does not say (as in a round). */
const PARALLEL_UNLOCKS = 2;

export interface EarlyUnlockDeps {
  plan: KeyPlan;
  /** Guards armed before the store opened, in an earlier start (early-guards.ts). */
  earlyGuards: EarlyGuard[];
  bootID: string;
  transport: DriveTransport;
  /** The serial of the device at each path that has one (DriveInventory.serialsAt). */
  serialsAt(paths: string[]): Promise<Map<string, string>>;
  /** The cluster's private key (PEM), unsealed; copied before earlyUnlock returns. */
  privateKeyPem: Buffer;
  kmip: KmipSettings;
  /** Makes a refusal durable (early-guards.ts) before the pass goes on. */
  recordGuard(guard: EarlyGuard): void;
  /** Before the first attempt (the state lock is taken here); throwing gives them up. */
  beforeAttempts(): void;
  /** After a drive unlocked (the ioctl backend re-reads its partition table); may throw. */
  afterUnlock?: (path: string) => Promise<void>;
  /** The batched Get (fetchAks by default). */
  fetch?: typeof fetchAks;
  logger?: Logger;
}

/** What the early unlock did, for BootUnlockService to record once the store is open. */
export interface EarlyOutcome {
  bootID: string;
  /** Unlocked here, by driveID. */
  unlocked: number[];
  /** Read unlocked already (a restart without a power cycle). */
  foundUnlocked: number[];
  /** Left locked after an attempt or for want of a key, and why. */
  failed: Map<number, KeyFailure>;
  /** The guards to record: refusals met here, and those an earlier start left in the file. */
  guards: EarlyGuard[];
  /** Each key server asked: null when it served, else why not. */
  servers: ServerOutcomes;
  timings: Timings;
}

type Planned = PlannedDrive & { opal: OpalDrive };

/**
 * Runs the early unlock; never rejects (a failure leaves the drives to the round). The
 * private key is copied for each provider before this returns: the caller zeroes its own.
 */
export function earlyUnlock(deps: EarlyUnlockDeps): Promise<EarlyOutcome> {
  const { plan, bootID, logger } = deps;
  const outcome: EarlyOutcome = {
    bootID,
    unlocked: [],
    foundUnlocked: [],
    failed: new Map(),
    guards: [...deps.earlyGuards],
    servers: new Map(),
    timings: [],
  };
  const guards = [...plan.guards, ...deps.earlyGuards];
  const drives: Planned[] = plan.drives
    .filter((d) => !guards.some((g) => g.driveID === d.driveID && guardHolds(g, d, bootID)))
    .map((d) => ({ ...d, opal: new OpalDrive(deps.transport, d.path) }));
  const providers = new Map<number, KmipProvider>();
  try {
    for (const p of plan.providers) {
      if (!drives.some((d) => d.keyProviderID === p.keyProviderID)) continue;
      const provider = openPlanned(p, deps);
      provider.preconnect();
      providers.set(p.keyProviderID, provider);
    }
  } catch (err) {
    for (const provider of providers.values()) provider.close();
    logger?.warn({ err: (err as Error).message }, 'early unlock: cannot open the key providers');
    return Promise.resolve(outcome);
  }
  const started = performance.now();
  return run(deps, drives, providers, outcome)
    .catch((err: unknown) => {
      logger?.warn({ err: (err as Error).message }, 'early unlock stopped; the round goes on');
    })
    .then(() => {
      for (const provider of providers.values()) provider.close();
      logger?.info(
        {
          unlocked: outcome.unlocked.length,
          foundUnlocked: outcome.foundUnlocked.length,
          failed: outcome.failed.size,
          planned: plan.drives.length,
          ms: Math.round(performance.now() - started),
        },
        'early unlock over',
      );
      return outcome;
    });
}

async function run(
  deps: EarlyUnlockDeps,
  drives: Planned[],
  providers: Map<number, KmipProvider>,
  outcome: EarlyOutcome,
): Promise<void> {
  const { plan, logger } = deps;
  const inFlight = new InFlightLimit(deps.transport.maxInFlight ?? PARALLEL_UNLOCKS);
  const unlockedAlready = new Set<number>();
  let asked: Promise<KeyAnswers> | undefined;
  // At the first drive that reads locked, the keys of every drive not read unlocked by then.
  const ask = () =>
    (asked ??= requestKeys(
      plan,
      providers,
      drives.filter((d) => !unlockedAlready.has(d.driveID)),
      deps.fetch ?? fetchAks,
    ));
  const serials = deps.serialsAt(drives.map((d) => d.path)).catch((err: unknown) => {
    logger?.warn({ err: (err as Error).message }, 'early unlock: cannot read the drives’ serials');
    return new Map<string, string>();
  });
  const locked: Planned[] = [];
  await Promise.all(
    drives.map((d) =>
      inFlight.run(async () => {
        try {
          const read = await readHeldStatus(d.opal);
          if (!read.locked) return void unlockedAlready.add(d.driveID);
          locked.push(d);
          void ask();
        } catch (err) {
          logger?.debug({ driveID: d.driveID, err: (err as Error).message }, 'early status');
        }
      }),
    ),
  );
  outcome.foundUnlocked = [...unlockedAlready].sort((a, b) => a - b);
  if (!asked) return;
  const answers = asked;
  let toTry: Planned[] = [];
  try {
    const at = await serials;
    toTry = locked.filter((d) => {
      if (at.get(d.path) === d.serial) return true;
      logger?.warn(
        { driveID: d.driveID, device: d.path, planned: d.serial, found: at.get(d.path) ?? null },
        'early unlock: the device is not the planned drive; left to the boot’s round',
      );
      return false;
    });
    const keys = collectExternalKeys(toTry, await answers);
    outcome.servers = keys.servers;
    crashPoint('early.beforeAttempts');
    deps.beforeAttempts();
    const tally = roundTally();
    const attempts: (Attempt & { drive: Planned })[] = toTry.map((d) => ({
      driveID: d.driveID,
      opal: d.opal,
      keyID: d.keyID,
      drive: d,
    }));
    outcome.timings = await attemptUnlocks(
      { inFlight, metrics: NO_METRICS, afterUnlock: deps.afterUnlock, logger },
      attempts,
      keys.aks,
      tally,
      {
        unlocked: async () => {},
        refused: async (a) => {
          const guard = { driveID: a.driveID, ...guardOf(a.drive, deps.bootID) };
          deps.recordGuard(guard);
          outcome.guards.push(guard);
          crashPoint('early.afterGuard');
        },
      },
    );
    outcome.unlocked = tally.result.unlocked.sort((a, b) => a - b);
    outcome.failed = new Map(tally.failures);
  } finally {
    for (const d of locked) void d.opal.release().catch(() => undefined);
    // Whatever no attempt took (or every key, when the pass stopped short).
    zeroWhenAnswered(answers);
  }
}

/** A client for a planned provider's servers, in the plan's order. */
function openPlanned(p: PlannedProvider, deps: EarlyUnlockDeps): KmipProvider {
  const key = Buffer.from(deps.privateKeyPem); // the provider's own copy, zeroed when it closes
  return providerFor(p.servers, key, deps.kmip, {
    versionOf: (s) => (s.version ? { knownVersion: parseVersion(s.version) } : {}),
    ...(deps.logger ? { logger: deps.logger } : {}),
  });
}

/** One batched Get per provider for `drives`' keys, through the providers opened ahead. */
async function requestKeys(
  plan: KeyPlan,
  providers: Map<number, KmipProvider>,
  drives: Planned[],
  fetch: typeof fetchAks,
): Promise<KeyAnswers> {
  const answers: KeyAnswers = new Map();
  await Promise.all(
    plan.providers.map(async (p) => {
      const provider = providers.get(p.keyProviderID);
      const uids = drives.filter((d) => d.keyProviderID === p.keyProviderID).map((d) => d.kmipUID);
      if (!provider || uids.length === 0) return;
      const ids = p.servers.map((s) => s.keyServerID);
      answers.set(
        p.keyProviderID,
        await askServers(
          ids,
          () => provider,
          (c) => fetch(c, uids),
        ),
      );
    }),
  );
  return answers;
}
