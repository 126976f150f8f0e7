// The early unlock: the drives unlocked from key-plan.json before the store is open (or
// while it cannot be: etcd slow or unreachable). Each planned drive is opened and its
// status read while the key provider's TLS connection is made; the first drive that reads
// locked sends the batched Get (so a restart that finds every drive unlocked fetches no
// key); each locked drive whose device still has the planned serial, whose key matches its
// key check value and that no guard of this boot holds back gets one attempt — the round's
// own steps (attemptUnlocks, unlockDrive). Drives whose AK is sealed under the split
// drive-access key wait for a peer's share instead (early-dak-keys.ts), asked at the first
// of them that reads locked, beside the Get: neither kind waits for the other's keys. A
// refusal is written to early-guards.ts's file before anything else. Every key is zeroed
// once the attempts are over. Whatever goes wrong leaves the drive locked for the boot's first round, which BootUnlockService runs
// once the store is open, after recording what this pass found (early-outcome.ts).
import type { Logger } from 'pino';
import type { KmipProvider } from '../../kmip/client';
import { OpalDrive } from '../../opal/drive';
import type { DriveTransport } from '../../opal/transport';
import { InFlightLimit } from '../../util/in-flight-limit';
import { fetchAks, type KmipSettings } from '../drive-keys/kmip-keys';
import type { ServerOutcomes } from '../key-servers/server-faults';
import { crashPoint } from '../test-hooks';
import type { EarlyGuard } from './early-guards';
import {
  collectExternalKeys,
  zeroWhenAnswered,
  type KeyAnswers,
  type KeyFailure,
} from './fetch-keys';
import type { KeyPlan, PlannedDrive } from './key-plan';
import { openPlanned, requestKeys } from './early-providers';
import { dakSealedKeys, type EarlySplitKey } from './early-dak-keys';
import type { PlannedDakDrive } from './split-key-plan';
import { readHeldStatus } from './round-drives';
import { roundTally } from './round-result';
import { attemptUnlocks, type Timings } from './round-unlocks';
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
  privateKeyPem?: Buffer;
  /** Given when the plan has drives sealed under the split drive-access key. */
  splitKey?: EarlySplitKey;
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

/** A planned drive: its AK at a provider, or (keyProviderID null) under the split DAK. */
type Planned = (PlannedDrive | (PlannedDakDrive & { keyProviderID: null })) & {
  opal: OpalDrive;
};
const external = (d: Planned): d is PlannedDrive & { opal: OpalDrive } => d.keyProviderID !== null;

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
  const dakDrives = deps.splitKey ? (plan.splitKey?.drives ?? []) : [];
  const drives: Planned[] = [
    ...plan.drives,
    ...dakDrives.map((d) => ({ ...d, keyProviderID: null })),
  ]
    .filter((d) => !guards.some((g) => g.driveID === d.driveID && guardHolds(g, d, bootID)))
    .map((d) => ({ ...d, opal: new OpalDrive(deps.transport, d.path) }));
  const providers = new Map<number, KmipProvider>();
  try {
    for (const p of plan.providers) {
      if (!deps.privateKeyPem || !drives.some((d) => d.keyProviderID === p.keyProviderID)) continue;
      const provider = openPlanned(p, deps.privateKeyPem, deps.kmip, logger);
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
          planned: plan.drives.length + dakDrives.length,
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
      drives.filter((d) => !unlockedAlready.has(d.driveID)).filter(external),
      deps.fetch ?? fetchAks,
    ));
  // At the first DAK-sealed drive that reads locked, the DAK and every such drive's AK.
  let dakKeys: Promise<Map<string, Buffer | KeyFailure>> | undefined;
  const askDak = () =>
    (dakKeys ??= dakSealedKeys(
      deps.splitKey!,
      drives.filter((d): d is Planned & PlannedDakDrive => !external(d)),
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
          void (external(d) ? ask() : askDak());
        } catch (err) {
          logger?.debug({ driveID: d.driveID, err: (err as Error).message }, 'early status');
        }
      }),
    ),
  );
  outcome.foundUnlocked = [...unlockedAlready].sort((a, b) => a - b);
  if (!locked.length) return;
  const tally = roundTally();
  let attempting: Promise<void> | undefined;
  // The state lock, taken once, before the first attempt of either kind.
  const beforeAttempts = () =>
    (attempting ??= Promise.resolve().then(() => {
      crashPoint('early.beforeAttempts');
      deps.beforeAttempts();
    }));
  const attemptWith = async (
    group: Planned[],
    keysOf: () => Promise<Map<string, Buffer | KeyFailure>>,
  ) => {
    if (!group.length) return;
    const aks = await keysOf();
    try {
      await beforeAttempts();
      const attempts = group.map((d) => ({
        driveID: d.driveID,
        opal: d.opal,
        keyID: d.keyID,
        drive: d,
      }));
      const timings = await attemptUnlocks(
        { inFlight, metrics: NO_METRICS, afterUnlock: deps.afterUnlock, logger },
        attempts,
        aks,
        tally,
        {
          unlocked: async () => {},
          refused: async (a) => {
            const guard = {
              driveID: a.driveID,
              ...guardOf({ kmipUID: null, ...a.drive }, deps.bootID),
            };
            deps.recordGuard(guard);
            outcome.guards.push(guard);
            crashPoint('early.afterGuard');
          },
        },
      );
      outcome.timings.push(...timings);
    } finally {
      // Keys no attempt took (the lock not had, or the pass stopped short).
      for (const ak of aks.values()) if (Buffer.isBuffer(ak)) ak.fill(0);
    }
  };
  try {
    const at = await serials;
    const toTry = locked.filter((d) => {
      if (at.get(d.path) === d.serial) return true;
      logger?.warn(
        { driveID: d.driveID, device: d.path, planned: d.serial, found: at.get(d.path) ?? null },
        'early unlock: the device is not the planned drive; left to the boot’s round',
      );
      return false;
    });
    // Each kind is tried as soon as its keys are in; the pass ends once both are over.
    const settled = await Promise.allSettled([
      attemptWith(toTry.filter(external), async () => {
        const keys = collectExternalKeys(toTry.filter(external), await ask());
        outcome.servers = keys.servers;
        return keys.aks;
      }),
      attemptWith(
        toTry.filter((d) => !external(d)),
        () => askDak(),
      ),
    ]);
    const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected) throw rejected.reason;
  } finally {
    outcome.unlocked = [...tally.result.unlocked].sort((a, b) => a - b);
    outcome.failed = new Map(tally.failures);
    for (const d of locked) void d.opal.release().catch(() => undefined);
    // Whatever no attempt took (or every key, when the pass stopped short).
    if (asked) zeroWhenAnswered(asked);
    if (dakKeys) zeroDakKeysWhenIn(dakKeys);
  }
}

function zeroDakKeysWhenIn(keys: Promise<Map<string, Buffer | KeyFailure>>): void {
  void keys.then((aks) => {
    for (const ak of aks.values()) if (Buffer.isBuffer(ak)) ak.fill(0);
  });
}
