// Boot-time unlock: every drive under hardware EAR that its status shows locked gets its
// AK (one batched Get per provider), checked, and one unlock attempt. Key servers that
// cannot serve raise kmipServerFault (one per key server that failed); drives left locked
// are the node's driveFailed and show why in ListDrives. Rounds repeat on a capped,
// jittered exponential backoff while keys are missing, and run again whenever the
// inventory reports a drive added or relocked. While running, the held keys are checked
// at the key servers every keyCheckIntervalSec.
//
// BootUnlockService decides when rounds run (never two at once) and holds what lasts
// between them. A boot's first round comes after the early unlock (early-unlock.ts, run
// from key-plan.json before the store opened) and records what it did (early-outcome.ts);
// without one, the keys are sent for ahead (prefetch-keys.ts). A round is unlock-round.ts
// (round-drives, round-keys, round-unlocks), what it reports is round-report.ts.
import type { Logger } from 'pino';
import { opalDriveOpener } from '../../opal/drive';
import type { DriveInventory } from '../../opal/inventory';
import type { DriveTransport } from '../../opal/transport';
import type { Store } from '../../store/store';
import { InFlightLimit } from '../../util/in-flight-limit';
import { Backoff } from '../backoff';
import type { KmipSettings } from '../drive-keys/kmip-keys';
import { SINGLE_NODE, type NodeScope } from '../drives/node-scope';
import { getEar } from '../ear-state';
import type { FaultService } from '../faults';
import { ClusterKeyPair } from '../key-pair';
import { NO_METRICS, type MetricsSink } from '../metrics-sink';
import type { Sealer } from '../sealer';
import type { DakAccess } from '../split-key/dak-access';
import { settleChain } from '../settle';
import { reportMovedMetadataDrives } from './drive-outcomes';
import { recordEarlyOutcome } from './early-outcome';
import type { EarlyOutcome } from './early-unlock';
import { zeroWhenAnswered } from './fetch-keys';
import { checkAndReportHeldKeys } from './key-check';
import { planFromStore } from './key-plan';
import { KeyPlanKeeper } from './plan-keeper';
import { freshOrDropped, sendForKeysAhead, type Prefetched } from './prefetch-keys';
import { keyedDrives, readRoundRecords } from './round-drives';
import { reportRound, type ReportMemory } from './round-report';
import { emptyRoundResult, type RoundResult, type UnlockProgress } from './round-result';
import { readBootID, releaseGuardIn } from './try-guard';
import { unlockRound, type RoundDeps } from './unlock-round';

/** Drives unlocked at once when the transport does not say (the ioctls share libuv's pool). */
const PARALLEL_UNLOCKS = 2;

export interface BootUnlockDeps {
  store: Store;
  sealer: Sealer;
  transport: DriveTransport;
  faults: FaultService;
  kmip: KmipSettings;
  /** Given on a shared store: internal AKs sealed under the drive-access key open through it. */
  dak?: DakAccess;
  retryMaxDelayMs: number;
  /** Drive added or relocked → a new round. */
  inventory?: DriveInventory;
  /** A metadata drive locked this long is failed and moved to available (default 360). */
  metadataGraceSec?: number;
  /** Check the held keys at their key servers this often; off when absent. */
  keyCheckIntervalSec?: number;
  /** After a drive unlocked (the ioctl backend re-reads its partition table); may throw. */
  afterUnlock?: (path: string) => Promise<void>;
  /** Where key-plan.json is kept (the stateDir), for the next start's early request; none when absent. */
  keyPlanDir?: string;
  /** Injectable for tests: /proc/sys/kernel/random/boot_id by default. */
  bootID?: () => string;
  /** Unlock durations go here; none recorded when absent. */
  metrics?: MetricsSink;
  /** Which drive records are this node's (the only ones it unlocks); default: a single node's. */
  scope?: NodeScope;
  logger?: Logger;
}

export class BootUnlockService {
  /** What every round's steps are given; the boot's id is read per round. */
  private readonly roundDeps: Omit<RoundDeps, 'bootID'>;
  private readonly memory: ReportMemory = { lockedSince: new Map(), keyProblems: new Map() };
  private readonly roundListeners = new Set<(p: UnlockProgress) => void>();
  /** The rounds and key checks, one after another. */
  private running: Promise<unknown> = Promise.resolve();
  private roundQueued = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private keyCheckTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private unwatchInventory: (() => void) | undefined;
  private closed = false;
  /** The keys asked for ahead of the first round (see prefetchKeys). */
  private prefetched: Prefetched | undefined;
  /** The early unlock's pass, for the next round to wait for and record (see adoptEarly). */
  private early: Promise<EarlyOutcome | undefined> | undefined;
  private firstPassDone!: () => void;
  /** Settles once the first round has finished: every drive unlocked or its fault raised. */
  readonly firstPass = new Promise<void>((resolve) => (this.firstPassDone = resolve));
  /** key-plan.json, when deps.keyPlanDir names where. */
  private readonly planKeeper: KeyPlanKeeper | undefined;
  private keysAskedNow!: () => void;
  /**
   * Settles when the first round waits on the key server (its status read, the keys not in
   * yet) or is over: other work then costs the unlock nothing. Keys already in are used at
   * once, and this settles after the unlocks.
   */
  readonly keysAsked = new Promise<void>((resolve) => (this.keysAskedNow = resolve));

  constructor(private readonly deps: BootUnlockDeps) {
    const keyPair = new ClusterKeyPair(deps.store, deps.sealer, deps.logger);
    this.roundDeps = {
      store: deps.store,
      scope: deps.scope ?? SINGLE_NODE,
      sealer: deps.sealer,
      kmip: deps.kmip,
      ...(deps.dak ? { dak: deps.dak } : {}),
      keyPair,
      openDrive: opalDriveOpener(deps.transport, deps.logger),
      inFlight: new InFlightLimit(deps.transport.maxInFlight ?? PARALLEL_UNLOCKS),
      afterUnlock: deps.afterUnlock,
      metrics: deps.metrics ?? NO_METRICS,
      keysAsked: () => this.keysAskedNow(),
      logger: deps.logger,
    };
    this.backoff = new Backoff(deps.retryMaxDelayMs);
    if (deps.keyPlanDir) {
      this.planKeeper = new KeyPlanKeeper({
        store: deps.store,
        dir: deps.keyPlanDir,
        plan: () => {
          if (getEar(deps.store).state !== 'enabled') return undefined;
          const records = readRoundRecords(deps.store, this.roundDeps.scope);
          const holder = deps.dak?.holder();
          return planFromStore(
            deps.store,
            keyPair,
            keyedDrives(records),
            records.guards,
            this.bootID(),
            holder && { nodeID: holder.nodeID, clusterUuid: holder.clusterUuid },
          );
        },
        ...(deps.logger ? { logger: deps.logger } : {}),
      });
    }
  }

  /**
   * Send for the keys of every drive under hardware EAR now (one batched Get per provider),
   * before the drives backend and the API start and before any drive's status is read: at a
   * boot they are all locked, and the key server's handshake and answer then overlap the
   * rest of the start. The first round takes from the answers the keys of the drives it
   * finds locked; the others are zeroed unused, and a key server's outcome counts only for
   * the keys taken. Drives the TryLimit guard holds are left out.
   * Not after adoptEarly.
   */
  prefetchKeys(): void {
    if (this.closed || this.prefetched || this.early) return;
    if (getEar(this.deps.store).state !== 'enabled') return;
    this.prefetched = sendForKeysAhead({ ...this.roundDeps, bootID: this.bootID() });
  }

  /**
   * The early unlock's pass (before the store opened): the next round waits for it to end,
   * records what it did (guards, timings), reports the key servers it asked with its own,
   * and finds the drives it unlocked unlocked. That round opens no key server connection
   * ahead of need: the early pass left locked only drives it could not unlock.
   * `planText`: the key plan file as the early unlock read it (saves reading it again).
   */
  adoptEarly(pass: Promise<EarlyOutcome | undefined>, planText?: string): void {
    if (this.closed || this.early) return;
    this.early = pass;
    if (planText !== undefined) this.planKeeper?.rememberFileText(planText);
  }

  /** First round now, then on inventory events and retries; idempotent. */
  start(): void {
    if (this.closed) return;
    this.unwatchInventory ??= this.deps.inventory?.watch((e) => {
      if (e.type === 'added' || e.type === 'relocked') this.trigger();
    });
    this.planKeeper?.rewriteAfterChanges();
    const every = this.deps.keyCheckIntervalSec;
    if (every && !this.keyCheckTimer) {
      this.keyCheckTimer = setInterval(() => this.checkKeys(), every * 1000).unref();
    }
    this.trigger();
  }

  /** Called with the progress after every round; returns an unsubscribe. */
  onRound(fn: (p: UnlockProgress) => void): () => void {
    this.roundListeners.add(fn);
    return () => this.roundListeners.delete(fn);
  }

  /** A round after the current one (rounds never overlap; requests in between coalesce). */
  trigger(): void {
    if (this.closed || this.roundQueued) return;
    this.roundQueued = true;
    this.running = this.running.then(() => this.runQueuedRound());
  }

  /**
   * The operator's release of the TryLimit guard (`ekmctl drives retry-unlock`): forget
   * the refusals of these drives (all when none are named) and run a round at once.
   * Returns the drives whose guard was released. An unknown drive ID, or another node's
   * drive, changes nothing.
   */
  async releaseGuards(driveIDs?: number[]): Promise<number[]> {
    const { scope } = this.roundDeps;
    const released = await this.deps.store.transaction((tx) => {
      const ids = driveIDs ?? scope.drives(tx).map((d) => d.driveID);
      for (const id of ids) scope.ownDrive(tx, id); // refused before any change
      return ids.filter((id) => releaseGuardIn(tx, id));
    });
    this.deps.logger?.info({ driveIDs: released }, 'TryLimit guard released by the operator');
    this.trigger();
    return released;
  }

  /** Re-evaluates the metadata-drive faults (after AddDrives made drives active). */
  async reconcile(): Promise<void> {
    if (this.closed) return;
    await this.deps.store.transaction((tx) => {
      const nodeID = this.roundDeps.scope.nodeID(tx);
      if (nodeID !== undefined) reportMovedMetadataDrives(tx, this.deps.faults, nodeID);
    });
  }

  /** Queues a check of the held keys at their key servers (after any running round). */
  checkKeys(): Promise<void> {
    const check = this.running.then(async () => {
      if (this.closed) return;
      try {
        await checkAndReportHeldKeys({ ...this.roundDeps, faults: this.deps.faults }, this.memory);
      } catch (err) {
        this.deps.logger?.error({ err: (err as Error).message }, 'key check failed');
      }
    });
    this.running = check;
    return check;
  }

  /** Settles once no round is running or queued. */
  async idle(): Promise<void> {
    await settleChain(() => this.running);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unwatchInventory?.();
    this.planKeeper?.close();
    for (const t of [this.retryTimer, this.graceTimer]) if (t) clearTimeout(t);
    if (this.keyCheckTimer) clearInterval(this.keyCheckTimer);
    this.keysAskedNow();
    this.firstPassDone();
    if (this.prefetched) zeroWhenAnswered(this.prefetched.answers);
    this.prefetched = undefined;
    await this.idle();
  }

  /** One pass over the locked drives. */
  async round(): Promise<RoundResult> {
    const { store } = this.deps;
    const early = await this.takeEarly();
    const nodeID = this.roundDeps.scope.nodeID(store);
    if (getEar(store).state !== 'enabled' || nodeID === undefined) return emptyRoundResult();
    const bootID = this.bootID();
    const records = readRoundRecords(store, this.roundDeps.scope);
    const prefetched = freshOrDropped(this.prefetched);
    this.prefetched = undefined;
    // After an early pass: no connection ahead of need, and what it left locked waits for
    // the retry rather than being tried again at once.
    const round = await unlockRound({ ...this.roundDeps, bootID }, records, prefetched, {
      preconnect: !early,
      ...(early ? { decided: early.failed } : {}),
    });
    const { result } = round;
    // The early pass's findings first: a server this round asked again speaks for itself.
    const servers = new Map([...(early?.servers ?? []), ...round.servers]);
    const graceEndsInMs = await reportRound(this.deps, this.memory, {
      nodeID,
      servers,
      candidates: records.candidates,
      result,
    });
    this.roundWhenGraceEnds(graceEndsInMs);
    return result;
  }

  /** The round trigger() queued, then what follows it: a retry, the listeners, the plan. */
  private async runQueuedRound(): Promise<void> {
    this.roundQueued = false;
    if (this.closed) return;
    try {
      const result = await this.round();
      this.scheduleRetry(result.retry);
      for (const fn of this.roundListeners) fn(result.progress);
    } catch (err) {
      this.deps.logger?.error({ err: (err as Error).message }, 'boot unlock round failed');
      this.scheduleRetry(true);
    } finally {
      this.keysAskedNow();
      this.firstPassDone();
      if (!this.closed) this.planKeeper?.writeIfChanged();
    }
  }

  private scheduleRetry(retry: boolean): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (!retry || this.closed) {
      this.backoff.reset();
      return;
    }
    this.retryTimer = setTimeout(() => this.trigger(), this.backoff.next());
    this.retryTimer.unref();
  }

  /** A round when a metadata drive's grace ends, even if nothing else would run one. */
  private roundWhenGraceEnds(inMs: number | undefined): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    if (inMs === undefined || this.closed) return;
    this.graceTimer = setTimeout(() => this.trigger(), inMs + 10);
    this.graceTimer.unref();
  }

  /** The early pass, once over and recorded; undefined when there was none (or it failed). */
  private async takeEarly(): Promise<EarlyOutcome | undefined> {
    const pass = this.early;
    if (!pass) return undefined;
    this.early = Promise.resolve(undefined); // prefetchKeys stays off
    const early = await pass;
    if (!early || this.closed) return undefined;
    await recordEarlyOutcome(
      {
        store: this.deps.store,
        metrics: this.roundDeps.metrics,
        ...(this.deps.keyPlanDir ? { keyPlanDir: this.deps.keyPlanDir } : {}),
        ...(this.deps.logger ? { logger: this.deps.logger } : {}),
      },
      early,
    );
    return early;
  }

  private bootID(): string {
    return (this.deps.bootID ?? readBootID)();
  }
}
